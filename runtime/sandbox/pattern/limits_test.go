package pattern

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// gsub refuses a result over its limit, however the replacement is given,
// and keeps results that need no more memory than the subject.
func TestGsubResultLimit(t *testing.T) {
	t.Parallel()
	const over = "string.gsub: the result would be over the limit of 1000 bytes"
	tests := []struct{ name, src, wantErr string }{
		{"string", `return (("x"):rep(600):gsub("x", "yy"))`, over},
		{"string at the limit", `return (("x"):rep(500):gsub("x", "yy"))`, ""},
		{"whole match twice", `return (("x"):rep(501):gsub("x", "%0%0"))`, over},
		{"capture", `return (("ab"):rep(400):gsub("(a)(b)", "%1%2%2"))`, over},
		{"table", `return (("x"):rep(10):gsub("x", {x = ("y"):rep(200)}))`, over},
		{"function", `return (("x"):rep(10):gsub("x", function() return ("y"):rep(200) end))`, over},
		{"number", `return (("x"):rep(400):gsub("x", 123))`, over},
		{"empty matches", `return (("x"):rep(400):gsub("", "--"))`, over},
		{"big subject shrinking", `return (("x"):rep(2000):gsub("x", ""))`, ""},
		{"big subject unchanged", `return (("x"):rep(2000):gsub("y", "z"))`, ""},
		{"big subject, same size", `return (("x"):rep(2000):gsub("x", "y"))`, ""},
		{"big subject growing", `return (("x"):rep(2000):gsub("x$", "yy"))`, "string.gsub: the result would be over"},
		{"kept matches count", `return (("x"):rep(2000):gsub("x", {}))`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			L := lua.NewState()
			defer L.Close()
			str := L.GetGlobal("string").(*lua.LTable)
			for name, fn := range Functions(noDeadline, 1000) {
				str.RawSetString(name, L.NewFunction(fn))
			}
			err := L.DoString(tt.src)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
