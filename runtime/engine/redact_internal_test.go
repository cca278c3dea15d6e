package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
)

// The digits are found as keys wherever text holds them, spelt out with
// separators too; a short entry only where it stands alone.
func TestHideDigits(t *testing.T) {
	t.Parallel()
	tests := []struct{ digits, in, want string }{
		{"4321", "4321", "••••"},
		{"4321#", "PIN 4321# ok", "PIN ••••# ok"},
		{"4321", "You entered 4 3 2 1.", "You entered • • • •."},
		{"4321", "You entered 4, 3, 2, 1.", "You entered •, •, •, •."},
		{"4321", "4-3-2-1 and 4321", "•-•-•-• and ••••"},
		{"4321", "https://bank.example/check?pin=4321&x=1", "https://bank.example/check?pin=••••&x=1"},
		{"4321", "94321", "9••••"},           // inside a longer number: hidden all the same
		{"4321", "4 3  2   1", "4 3  2   1"}, // three separators: not the digits spelt out
		{"4111111111111111", `{"card":"4111 1111 1111 1111"}`, `{"card":"•••• •••• •••• ••••"}`},
		{"12", "12 and 123 and x12y", "•• and 123 and x••y"}, // short: alone only
		{"12", "1 2", "1 2"},
		{"7", "press 7, not 77", "press •, not 77"},
		{"12AB", "12ab", "••••"},
		{"#", "#1#", "#1#"}, // no keys to hide
		{"4321", "nothing here", "nothing here"},
	}
	for _, tt := range tests {
		r := &redaction{digits: tt.digits, secret: strings.TrimRight(tt.digits, "#")}
		if got := r.hide(tt.in); got != tt.want {
			t.Errorf("digits %q in %q: got %q, want %q", tt.digits, tt.in, got, tt.want)
		}
	}
}

// JSON stays JSON: strings and keys are redacted; numbers when asked (a
// payload, vars), never in a reply, which must stay a callflow 8x8 takes.
func TestHideInJSON(t *testing.T) {
	t.Parallel()
	r := &redaction{digits: "5000", secret: "5000"}
	doc := `{"pin":5000,"said":"you typed 5 0 0 0","k5000":true,"list":[5000.5,"5000"]}`
	if got, want := string(r.json([]byte(doc), true)), `{"k••••":true,"list":["••••.5","••••"],"pin":"••••","said":"you typed • • • •"}`; got != want {
		t.Errorf("with numbers:\n got %s\nwant %s", got, want)
	}
	reply := `{"callflow":[{"action":"sayAndCapture","params":{"promptMessage":"You said 5000","digitTimeout":5000}}]}`
	got := string(r.reply([]byte(reply)))
	if !strings.Contains(got, `"digitTimeout":5000`) || !strings.Contains(got, `You said ••••`) {
		t.Errorf("reply: %s", got)
	}
	if got := string(r.json([]byte(`{"x":1}`), true)); got != `{"x":1}` {
		t.Errorf("untouched JSON changed: %s", got)
	}
}

// Every string an entry holds is redacted, however deep, so a field added to
// store.Entry is covered without a change to redact.go. The entry is filled
// with the secret in every field of every kind it has; a kind fill does not
// know fails the test, to be taught here and in scrub.
func TestRedactionCoversEveryField(t *testing.T) {
	t.Parallel()
	const secret = "90210"
	var e store.Entry
	fill(t, reflect.ValueOf(&e).Elem(), "says "+secret+" in", "Entry")
	before, _ := json.Marshal(e)
	if !strings.Contains(string(before), secret) {
		t.Fatalf("the filled entry does not hold the secret: %s", before)
	}
	r := &redaction{digits: secret, secret: secret}
	r.mark()
	r.entry(&e)
	after, err := store.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(after), secret) {
		t.Fatalf("the secret is still in the entry after redaction:\n%s", after)
	}
	if !e.Redacted || *e.Digits != strings.Repeat("•", len("says "+secret+" in")) {
		t.Errorf("Redacted %v, Digits %q", e.Redacted, *e.Digits)
	}
}

// fill puts text (which holds the secret) in every string of v, and one
// element in every slice and map.
func fill(t *testing.T, v reflect.Value, text, path string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32: // counts and times, not what a script writes
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(7)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // JSON (payload, reply, kv values) or bytes
			v.SetBytes([]byte(`{"x":"` + text + `","n":90210}`))
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(t, s.Index(0), text, path+"[0]")
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(t, k, text, path+" key")
		e := reflect.New(v.Type().Elem()).Elem()
		fill(t, e, text, path+"[key]")
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(t, p.Elem(), text, path)
		v.Set(p)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(7, 0)))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i), text, path+"."+v.Type().Field(i).Name)
			}
		}
	default:
		t.Fatalf("%s is a %s, which this test cannot fill: teach fill, and check that redaction's scrub covers it", path, v.Type())
	}
}
