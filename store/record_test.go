package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// fill sets every field of v (a pointer), recursively, to a value that is
// not its zero and differs from field to field, so that a field a codec
// drops or swaps comes back different.
func fill(t *testing.T, v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem(), n)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Unix(1700000000+int64(*n), int64(*n)*1000+7)))
			return
		}
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				t.Fatalf("%s.%s is unexported: the record cannot carry it", v.Type(), v.Type().Field(i).Name)
			}
			fill(t, v.Field(i), n)
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d <&>", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n) * 1001)
	case reflect.Float64:
		v.SetFloat(float64(*n) / 1024)
	case reflect.Slice:
		if v.Type() == reflect.TypeFor[json.RawMessage]() {
			v.SetBytes(fmt.Appendf(nil, `{"raw":%d,"html":"<b>&"}`, *n))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(t, s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 2 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			fill(t, k, n)
			fill(t, e, n)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		t.Fatalf("fill: no value for a field of kind %s: teach the test (and the record) this kind", v.Kind())
	}
}

// utc sets every time in v (a pointer), recursively, to UTC: a record keeps
// a time's instant, not its location.
func utc(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			utc(v.Elem())
		}
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			v.Set(reflect.ValueOf(t.UTC()))
			return
		}
		for i := range v.NumField() {
			utc(v.Field(i))
		}
	case reflect.Slice:
		for i := range v.Len() {
			utc(v.Index(i))
		}
	}
}

// same reports whether a and b (pointers) hold the same values, times
// compared as instants.
func same(a, b any) bool {
	utc(reflect.ValueOf(a))
	utc(reflect.ValueOf(b))
	return reflect.DeepEqual(a, b)
}

// Every field of Session and Entry, Inputs included, survives its record:
// a field added to either without being added to record.go fails here.
func TestRecordCarriesEveryField(t *testing.T) {
	n := 0
	var s Session
	fill(t, reflect.ValueOf(&s).Elem(), &n)
	got, err := DecodeSession(AppendSession(nil, s))
	if err != nil {
		t.Fatal(err)
	}
	if !same(&got, &s) {
		t.Errorf("a session does not survive its record:\n got %+v\nwant %+v", got, s)
	}

	var e Entry
	fill(t, reflect.ValueOf(&e).Elem(), &n)
	ge, err := DecodeEntry(AppendEntry(nil, e))
	if err != nil {
		t.Fatal(err)
	}
	if !same(&ge, &e) {
		t.Errorf("an entry does not survive its record:\n got %+v\nwant %+v", ge, e)
	}
	// Each field on its own, so that two fields swapped by the codec or a
	// flag bit shared by two booleans show up.
	for i := range reflect.TypeFor[Entry]().NumField() {
		var one Entry
		fill(t, reflect.ValueOf(&one).Elem().Field(i), &n)
		if got, err := DecodeEntry(AppendEntry(nil, one)); err != nil || !same(&got, &one) {
			t.Errorf("an entry with only %s set reads back as %+v, %v", reflect.TypeFor[Entry]().Field(i).Name, got, err)
		}
	}
	for i := range reflect.TypeFor[Session]().NumField() {
		var one Session
		fill(t, reflect.ValueOf(&one).Elem().Field(i), &n)
		if got, err := DecodeSession(AppendSession(nil, one)); err != nil || !same(&got, &one) {
			t.Errorf("a session with only %s set reads back as %+v, %v", reflect.TypeFor[Session]().Field(i).Name, got, err)
		}
	}
}

// The zero values read back as zero, and a digit-less entry keeps Digits
// nil where an empty string of digits stays "".
func TestRecordZero(t *testing.T) {
	if got, err := DecodeSession(AppendSession(nil, Session{})); err != nil || !reflect.DeepEqual(got, Session{}) {
		t.Errorf("the zero session reads back as %+v, %v", got, err)
	}
	if got, err := DecodeEntry(AppendEntry(nil, Entry{})); err != nil || !reflect.DeepEqual(got, Entry{}) {
		t.Errorf("the zero entry reads back as %+v, %v", got, err)
	}
	empty := ""
	if got, err := DecodeEntry(AppendEntry(nil, Entry{Digits: &empty})); err != nil || got.Digits == nil || *got.Digits != "" {
		t.Errorf("an entry with empty digits reads back as %+v, %v", got, err)
	}
}

// Records an older luaivr wrote as JSON still read; a damaged record is an
// error, not a session with fields missing.
func TestRecordReadsJSONAndRefusesDamage(t *testing.T) {
	s := Session{ID: "a", App: "shop", Vars: json.RawMessage(`{"n":1}`), Events: 3, Updated: time.Unix(1700000000, 5)}
	old, _ := Encode(s)
	got, err := DecodeSession(old)
	if err != nil || got.ID != "a" || got.Events != 3 || !got.Updated.Equal(s.Updated) || string(got.Vars) != `{"n":1}` {
		t.Errorf("a JSON session reads back as %+v, %v", got, err)
	}
	rec := AppendSession(nil, s)
	for _, bad := range [][]byte{rec[:len(rec)/2], {9, 1, 2}, nil} {
		if _, err := DecodeSession(bad); err == nil {
			t.Errorf("the damaged record %q decodes without an error", bad)
		}
	}
	e := AppendEntry(nil, Entry{Seq: 1, Event: bytes.Repeat([]byte("x"), 100)})
	if _, err := DecodeEntry(e[:20]); err == nil {
		t.Error("a truncated entry decodes without an error")
	}
}

// BenchmarkRecord compares the records with encoding/json on a restaurant
// session and the entry of a CALL_ACTION.
func BenchmarkRecord(b *testing.B) {
	at := time.Now()
	digits := "1"
	s := Session{ID: "d62f91ba-9a40-11ee-945e-5f476b4334a1", App: "restaurant", Version: "0123456789abcdef",
		Vars: json.RawMessage(`{"party":4}`), ActionID: "reservations", Menu: "reservations", Root: "main_menu",
		Tries: map[string]int{"main_menu": 1}, Status: "CALL_CONNECTED", Direction: "INBOUND",
		Source: "+6568332048", Destination: "+6531589338", Events: 4, Created: at, Updated: at}
	e := Entry{Seq: 4, At: at, App: "restaurant", EventType: "CALL_ACTION", EventID: "ddc1e44a-9a40-11ee-b7e9-838e846e8a11",
		CallStatus: "ACTION_COMPLETED", Digits: &digits, ActionID: "main_menu", Handler: "menu", Duration: 180 * time.Microsecond,
		Event: bytes.Repeat([]byte("x"), 450), Reply: bytes.Repeat([]byte("y"), 330), Version: "0123456789abcdef"}
	sessionLen := len(AppendSession(nil, s))
	for _, c := range []struct {
		name   string
		encode func() []byte
		decode func([]byte) error
	}{
		{"record", func() []byte { return AppendEntry(AppendSession(nil, s), e) }, func(b []byte) error {
			if _, err := DecodeSession(b[:sessionLen]); err != nil {
				return err
			}
			_, err := DecodeEntry(b[sessionLen:])
			return err
		}},
		{"encoding_json", func() []byte {
			sj, _ := Encode(s)
			ej, _ := Encode(Entry{Seq: e.Seq, At: e.At, App: e.App, EventType: e.EventType, EventID: e.EventID, CallStatus: e.CallStatus,
				Digits: e.Digits, ActionID: e.ActionID, Handler: e.Handler, Duration: e.Duration,
				Event: json.RawMessage(`"` + string(e.Event) + `"`), Reply: json.RawMessage(`"` + string(e.Reply) + `"`), Version: e.Version})
			return append(append(sj, '\n'), ej...)
		}, func(b []byte) error {
			i := bytes.IndexByte(b, '\n')
			var s Session
			var e Entry
			if err := json.Unmarshal(b[:i], &s); err != nil {
				return err
			}
			return json.Unmarshal(b[i+1:], &e)
		}},
	} {
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				n = len(c.encode())
			}
			b.ReportMetric(float64(n), "bytes")
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			rec := c.encode()
			b.ReportAllocs()
			for b.Loop() {
				if err := c.decode(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
