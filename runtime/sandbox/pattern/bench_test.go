package pattern

import (
	"runtime"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// benchSetup is Lua both states run before the workloads: the texts an IVR
// script parses.
const benchSetup = `
FORM = "caller=%2B6591234567&digits=1234&name=Ann+Lee&note=" .. string.rep("x", 200) .. "&lang=en%2DGB&ok=1"
HEADERS = "HTTP/1.1 200 OK\r\nServer: example\r\nDate: Sat, 21 Nov 2026 10:00:00 GMT\r\n" ..
  "Content-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: 1234\r\n\r\n"
JSON = '{"id": "c-42", "customer": {"name": "Ann Lee", "tier": "gold"}, "open": true, "status" : "booked", "seats": 4}'
PADDED = "   press one for reservations   "
RANGE = "opening hours 09-17"
`

// workloads are the patterns scripts use on replies and webhook payloads.
var workloads = []struct{ name, src string }{
	{"form body", `local t = {} for k, v in FORM:gmatch("([^&=]+)=([^&=]*)") do
		t[k] = v:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end) end`},
	{"header", `local n = HEADERS:match("\r\nContent%-Length:%s*(%d+)")`},
	{"json field", `local s = JSON:match('"status"%s*:%s*"(.-)"')`},
	{"trim", `local s = PADDED:match("^%s*(.-)%s*$")`},
	{"range", `local a, b = RANGE:match("(%d+)-(%d+)")`},
	{"e164", `local ok = ("+6591234567"):find("^%+[1-9]%d%d%d%d%d%d+$")`},
	{"lines", `local n = 0 for line in HEADERS:gmatch("[^\r\n]+") do n = n + 1 end`},
	{"template", `local s = ("Hello $name, your table for $seats is at $time"):gsub("%$(%w+)", {name = "Ann", seats = 4, time = "8pm"})`},
}

// BenchmarkPatterns runs each workload 20 times through this package and, in
// the same run, through gopher-lua's matcher; "ours/gopher" is the ratio of
// their times (below 1: this package is faster). ns/op and allocs/op are this
// package's.
//
//	go test -run '^$' -bench Patterns -benchtime 2s ./runtime/sandbox/pattern/
func BenchmarkPatterns(b *testing.B) {
	for _, w := range workloads {
		b.Run(w.name, func(b *testing.B) {
			ours := benchFunction(b, true, w.src)
			gopher := benchFunction(b, false, w.src)
			b.ReportAllocs()
			runtime.GC() // neither side pays for the other's garbage
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				ours()
			}
			took := time.Since(start)
			b.StopTimer()
			runtime.GC()
			start = time.Now()
			for range b.N {
				gopher()
			}
			b.ReportMetric(float64(took)/float64(time.Since(start)), "ours/gopher")
		})
	}
}

// benchFunction compiles src, 20 times in a loop, as a function in a state with this package's
// pattern functions (ours) or gopher-lua's, and returns a call of it.
func benchFunction(b *testing.B, ours bool, src string) func() {
	L := lua.NewState()
	b.Cleanup(L.Close)
	if ours {
		str := L.GetGlobal("string").(*lua.LTable)
		for name, fn := range Functions(ContextErr, 1<<20) {
			str.RawSetString(name, L.NewFunction(fn))
		}
	}
	if err := L.DoString(benchSetup); err != nil {
		b.Fatal(err)
	}
	fn, err := L.LoadString("for i = 1, 20 do " + src + " end")
	if err != nil {
		b.Fatal(err)
	}
	return func() {
		if err := L.CallByParam(lua.P{Fn: fn, Protect: true}); err != nil {
			b.Fatal(err)
		}
	}
}
