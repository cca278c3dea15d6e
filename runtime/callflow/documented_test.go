package callflow

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sharedDirs are verbatim copies of the project's shared 8x8 samples
// (shared/fixtures/8x8) and guides (shared/seeds), kept in the repository so the
// tests run on a clean checkout.
var sharedDirs = map[string]string{
	"fixtures": "../webhook/testdata", // fixtures/8x8 → ../webhook/testdata/8x8
	"seeds":    "testdata/seeds",
}

// documented is a callflow as 8x8 documents it.
type documented struct {
	name string
	json []byte
	mode Mode
	// exact: the sample writes params in 8x8's order and numbers as we do, so
	// re-encoding it gives the same bytes.
	exact bool
	// wantCode is the status code the sample gets; 0 means valid.
	wantCode int
}

// replyFixtures are the callflows among the fixtures; any new one must be listed.
var replyFixtures = []documented{
	{name: "callflows_request_simple_ivr__seed.json", mode: AsPlaced, exact: true},
	{name: "vca_response_makeCall_recording__docs.json", mode: AsReply, exact: true},
	{name: "vca_response_playFile__docs.json", mode: AsReply, exact: true},
	// Writes speed as 1.0, which we write 1.
	{name: "vca_response_say_hangup__docs.json", mode: AsReply},
	// Puts successMessage and failureMessage before voiceProfile, and speed is 1.0.
	{name: "vca_response_sayAndCapture_all_params__docs_ivr_call_action_handling.json", mode: AsReply},
}

// placeholders fill in the {{…}} the advanced guide leaves in its JSON (some of them
// unquoted, which is not JSON).
var placeholders = map[string]string{
	"Virtual Number":           "6561115777",
	"Number to Call":           "6512345678",
	"Source Phone Number":      "6512345678",
	"Destination Phone Number": "6561115777",
	"Text to send the user":    "We have booked your table for today, thank you.",
}

var (
	placeholderRE = regexp.MustCompile(`"?\{\{([^}]*)\}\}"?`)
	jsonFenceRE   = regexp.MustCompile("(?s)```json\\s*\n(.*?)```")
)

func sharedPath(t *testing.T, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{sharedDirs[elem[0]]}, elem[1:]...)...)
	if _, err := os.Stat(p); err != nil {
		abs, _ := filepath.Abs(p)
		t.Fatalf("8x8 samples missing: %v (looked for %s)", err, abs)
	}
	return p
}

func readShared(t *testing.T, elem ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(sharedPath(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// documentedCallflows returns every callflow of the fixtures, the two IVR guides and
// the Send Callflow API reference.
func documentedCallflows(t *testing.T) []documented {
	t.Helper()
	var all []documented

	dir := sharedPath(t, "fixtures", "8x8")
	found, _ := filepath.Glob(filepath.Join(dir, "callflows_request_*.json"))
	replies, _ := filepath.Glob(filepath.Join(dir, "vca_response_*.json"))
	for _, f := range append(found, replies...) {
		if !slices.ContainsFunc(replyFixtures, func(d documented) bool { return d.name == filepath.Base(f) }) {
			t.Errorf("fixture %s is a callflow: list it in replyFixtures", filepath.Base(f))
		}
	}
	for _, d := range replyFixtures {
		d.json = readShared(t, "fixtures", "8x8", d.name)
		all = append(all, d)
	}

	// In each guide the first callflow is the request that places the call; the
	// others answer webhooks.
	for _, guide := range []struct {
		file  string
		count int
	}{{"simple-ivr-guide.md", 4}, {"advanced-ivr-guide.md", 14}} {
		n := 0
		for _, m := range jsonFenceRE.FindAllSubmatch(readShared(t, "seeds", guide.file), -1) {
			var probe map[string]json.RawMessage
			block := fillPlaceholders(t, m[1])
			if err := json.Unmarshal(block, &probe); err != nil {
				t.Fatalf("%s: a JSON block does not parse: %v\n%s", guide.file, err, block)
			}
			if probe["callflow"] == nil {
				continue // a webhook or an API answer
			}
			mode := AsReply
			if n == 0 {
				mode = AsPlaced
			}
			n++
			all = append(all, documented{name: guide.file + " callflow " + strconv.Itoa(n), json: block, mode: mode})
		}
		if n != guide.count {
			t.Errorf("%s: found %d callflows, want %d", guide.file, n, guide.count)
		}
	}

	// The API reference writes its examples as bare JSON after "Example N:".
	api := string(readShared(t, "seeds", "send-callflow-api.txt"))
	for n := 1; n <= 3; n++ {
		header := "Example " + strconv.Itoa(n) + ":"
		at := strings.Index(api, header)
		if at < 0 {
			t.Fatalf("send-callflow-api.txt: %q not found", header)
		}
		rest := api[at:]
		var raw json.RawMessage
		if err := json.NewDecoder(strings.NewReader(rest[strings.Index(rest, "{"):])).Decode(&raw); err != nil {
			t.Fatalf("send-callflow-api.txt %s: %v", header, err)
		}
		d := documented{name: "send-callflow-api.txt " + header, json: raw, mode: AsPlaced}
		if n == 1 {
			// Sends digitTimeout without overallTimeout, which 8x8's own status
			// codes refuse (-1005).
			d.wantCode = -1005
		}
		all = append(all, d)
	}
	return all
}

func fillPlaceholders(t *testing.T, block []byte) []byte {
	t.Helper()
	return placeholderRE.ReplaceAllFunc(block, func(m []byte) []byte {
		name := strings.TrimSpace(string(placeholderRE.FindSubmatch(m)[1]))
		v, ok := placeholders[name]
		if !ok {
			t.Fatalf("placeholder {{%s}}: add a value for it", name)
		}
		return []byte(strconv.Quote(v))
	})
}

// Every documented callflow decodes and encodes back to the same JSON value, and to
// the same bytes where the sample already follows 8x8's order.
func TestDocumentedCallflowsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, d := range documentedCallflows(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(d.json)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := r.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			var want, have any
			if err := json.Unmarshal(d.json, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &have); err != nil {
				t.Fatalf("MarshalJSON wrote invalid JSON: %v\n%s", err, got)
			}
			if !reflect.DeepEqual(have, want) {
				t.Errorf("round trip changed the callflow\n got %s\nwant %s", got, d.json)
			}
			if d.exact {
				var compact bytes.Buffer
				if err := json.Compact(&compact, d.json); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, compact.Bytes()) {
					t.Errorf("MarshalJSON\n got %s\nwant %s", got, compact.Bytes())
				}
			}
		})
	}
}

// Every callflow 8x8 documents as working passes, without even a warning.
func TestDocumentedCallflowsValidate(t *testing.T) {
	t.Parallel()
	for _, d := range documentedCallflows(t) {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			r, err := Parse(d.json)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ps := Validate(r.Callflow, d.mode)
			switch {
			case d.wantCode == 0 && len(ps) > 0:
				t.Errorf("Validate: %s", describe(ps))
			case d.wantCode != 0 && (len(ps) != 1 || ps[0].Code != d.wantCode):
				t.Errorf("Validate: %s\nwant one %d", describe(ps), d.wantCode)
			}
		})
	}
}

// 8x8's sample answers carry the messages of our status table.
func TestStatusMessagesMatchFixtures(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(sharedPath(t, "fixtures", "8x8"), "callflows_response_*.json"))
	checked := 0
	for _, f := range files {
		var answer struct {
			StatusCode    int
			StatusMessage string
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &answer); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if answer.StatusCode > 1 { // an HTTP status: 401, 404
			continue
		}
		checked++
		want := StatusMessage(answer.StatusCode)
		if answer.StatusCode == codeInvalidAction {
			// -1007 carries the schema's message, as newProblem writes it.
			want = "$.callflow[0].action should be one of: "
		}
		if !strings.HasPrefix(answer.StatusMessage, want) || want == "" {
			t.Errorf("%s: statusMessage %q, our table says %q", filepath.Base(f), answer.StatusMessage, want)
		}
	}
	if checked < 3 {
		t.Errorf("checked %d answers with a status code, want at least 3", checked)
	}
}

// mainMenu is the advanced guide's main menu reply, as the restaurant app sends it.
func mainMenu() Reply {
	return Reply{ClientActionID: "main_menu", Callflow: []Action{{Name: SayAndCapture, Params: map[string]any{
		"promptMessage":  "Welcome to ABC Restaurant, to book a table press 1, to speak to a representative press 2, to hear our restaurant hours press 3.",
		"voiceProfile":   "en-US-BenjaminRUS",
		"speed":          1.0,
		"minDigits":      1.0,
		"maxDigits":      1.0,
		"digitTimeout":   10000.0,
		"overallTimeout": 10000.0,
		"noOfTries":      2.0,
	}}}}
}

// BenchmarkValidateAndEncode is the cost of a reply leaving the runtime: Check, then
// encode. encoding_json is the baseline to read it against: encoding/json on the
// same reply as maps, without validation.
func BenchmarkValidateAndEncode(b *testing.B) {
	reply := mainMenu()
	b.Run("MarshalJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Check(reply.Callflow, AsReply); err != nil {
				b.Fatal(err)
			}
			if _, err := reply.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			if err := Check(reply.Callflow, AsReply); err != nil {
				b.Fatal(err)
			}
			var err error
			if buf, err = reply.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		asMaps := map[string]any{
			"clientActionId": reply.ClientActionID,
			"callflow":       []any{map[string]any{"action": reply.Callflow[0].Name, "params": reply.Callflow[0].Params}},
		}
		for b.Loop() {
			if _, err := json.Marshal(asMaps); err != nil {
				b.Fatal(err)
			}
		}
	})
}
