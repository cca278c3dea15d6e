package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/luaivr/luaivr/runtime/engine"
)

// A step of a walk through a guide: the keys pressed ("start" for the first
// event of an inbound call, "" for no input) and the golden reply.
type step struct{ keys, golden string }

var restaurantWalks = map[string][]step{
	"book today":            {{"start", "main_menu"}, {"1", "reservations"}, {"1", "book_table"}, {"1", "booked_today"}},
	"book tomorrow":         {{"start", "main_menu"}, {"1", "reservations"}, {"1", "book_table"}, {"2", "booked_tomorrow"}},
	"book invalid":          {{"start", "main_menu"}, {"1", "reservations"}, {"1", "book_table"}, {"9", "invalid"}},
	"keep reservation":      {{"start", "main_menu"}, {"1", "reservations"}, {"2", "reschedule_table"}, {"1", "keep"}},
	"change reservation":    {{"start", "main_menu"}, {"1", "reservations"}, {"2", "reschedule_table"}, {"2", "changed"}},
	"reschedule invalid":    {{"start", "main_menu"}, {"1", "reservations"}, {"2", "reschedule_table"}, {"#", "invalid"}},
	"reservations to main":  {{"start", "main_menu"}, {"1", "reservations"}, {"3", "main_menu"}, {"3", "hours"}},
	"reservations invalid":  {{"start", "main_menu"}, {"1", "reservations"}, {"8", "invalid"}},
	"reservations no input": {{"start", "main_menu"}, {"1", "reservations"}, {"", "invalid"}},
	"connect":               {{"start", "main_menu"}, {"2", "connect_call"}, {"1", "connect"}, {"", "post_call"}},
	"connect to main":       {{"start", "main_menu"}, {"2", "connect_call"}, {"2", "main_menu"}, {"1", "reservations"}},
	"connect invalid":       {{"start", "main_menu"}, {"2", "connect_call"}, {"5", "invalid"}},
	"hours":                 {{"start", "main_menu"}, {"3", "hours"}},
	"main invalid":          {{"start", "main_menu"}, {"4", "invalid"}},
	"main two keys":         {{"start", "main_menu"}, {"12", "invalid"}},
	"main no input":         {{"start", "main_menu"}, {"", "invalid"}},
}

var simpleWalks = map[string][]step{
	"resolved":          {{"start", "menu"}, {"1", "hangup"}},
	"agent":             {{"start", "menu"}, {"2", "connect"}},
	"repeat then hang":  {{"start", "menu"}, {"3", "repeat"}, {"1", "hangup"}},
	"star then agent":   {{"start", "menu"}, {"*", "repeat"}, {"2", "connect"}},
	"no input, repeat":  {{"start", "menu"}, {"", "repeat"}, {"2", "connect"}},
	"repeat repeatedly": {{"start", "menu"}, {"9", "repeat"}, {"0", "repeat"}, {"1", "hangup"}},
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "guides", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every path of both guides, in all three digit shapes, with 8x8 echoing our
// clientActionId and without: each reply has the guide's actions and parameters.
func TestGuides(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../scripts", engine.Options{})
	for _, app := range []struct {
		name  string
		walks map[string][]step
		file  string
	}{{"restaurant", restaurantWalks, "restaurant_"}, {"simple_ivr", simpleWalks, "simple_"}} {
		for walk, steps := range app.walks {
			for shape := range shapeNames {
				for _, echo := range []bool{true, false} {
					name := fmt.Sprintf("%s/%s/%s/echo=%v", app.name, walk, shapeNames[shape], echo)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						c := newCall(shape, echo)
						for i, s := range steps {
							body := c.keys(s.keys)
							if s.keys == "start" {
								body = c.start()
							}
							got := h.post(body, app.name)
							if want := golden(t, app.file+s.golden); !sameJSON(t, got, want) {
								t.Fatalf("step %d (keys %q): reply\n%s\nwant %s.json:\n%s", i, s.keys, got, app.file+s.golden, want)
							}
							c.remember(got)
						}
					})
				}
			}
		}
	}
}

// A call placed through the Callflows API: 8x8 plays the guide's first menu,
// and the first CALL_ACTION arrives with no clientActionId and an unknown
// session. Its digits answer the main menu.
func TestGuidesPlacedCall(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../scripts", engine.Options{})
	for _, tt := range []struct{ app, keys, golden string }{
		{"restaurant", "1", "restaurant_reservations"},
		{"restaurant", "2", "restaurant_connect_call"},
		{"restaurant", "3", "restaurant_hours"},
		{"restaurant", "7", "restaurant_invalid"},
		{"simple_ivr", "1", "simple_hangup"},
		{"simple_ivr", "2", "simple_connect"},
		{"simple_ivr", "3", "simple_repeat"},
	} {
		for shape := range shapeNames {
			t.Run(fmt.Sprintf("%s/%s/%s", tt.app, tt.keys, shapeNames[shape]), func(t *testing.T) {
				t.Parallel()
				c := newCall(shape, true)
				c.direction = "OUTBOUND"
				got := h.post(c.keys(tt.keys), tt.app)
				if want := golden(t, tt.golden); !sameJSON(t, got, want) {
					t.Fatalf("reply\n%s\nwant\n%s", got, want)
				}
			})
		}
	}
}

// After the first event, the session alone routes the call: later webhooks
// on the bare /webhooks URL reach the same app at the same menu.
func TestRoutingBySession(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../scripts", engine.Options{})
	c := newCall(shapeEventDataDTMF, false)
	c.remember(h.post(c.start(), "simple_ivr"))
	if got := h.post(c.keys("3"), ""); !sameJSON(t, got, golden(t, "simple_repeat")) {
		t.Fatalf("reply %s", got)
	}
	// The restaurant claims its number: a new call to it needs no app in the URL.
	r := newCall(shapeDTMF, true)
	r.remember(h.post(r.start(), ""))
	if r.lastID != "main_menu" {
		t.Fatalf("a call to the restaurant's number got clientActionId %q", r.lastID)
	}
	if got := h.post(r.keys("2"), ""); !strings.Contains(string(got), "connect_call") {
		t.Fatalf("reply %s", got)
	}
}

// The README's first script (examples/hello.lua) does what the README says.
func TestReadmeFirstScript(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../examples", engine.Options{})
	c := newCall(shapeEventDataDTMF, true)
	steps := []struct{ keys, heard string }{
		{"start", "Hello! Press 1 to hear a joke, or 2 to hang up."},
		{"1", "Why did the IVR cross the road? To press 1."},
		{"1", "Why did the IVR cross the road? To press 1."},
		{"", "Goodbye, after 2 jokes."},
	}
	for _, s := range steps {
		body := c.keys(s.keys)
		if s.keys == "start" {
			body = c.start()
		}
		if got := replyText(t, h.post(body, "hello")); got != s.heard {
			t.Fatalf("keys %q: heard %q, want %q", s.keys, got, s.heard)
		}
	}
}

// The README's menu example (examples/menus.lua) routes as the README says.
func TestReadmeMenus(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "../../examples", engine.Options{})
	c := newCall(shapeDTMF, false)
	steps := []struct{ keys, heard, id string }{
		{"start", "For sales press 1, for support press 2.", "main"},
		{"1", "New customers press 1. Back: 9.", "sales"},
		{"9", "For sales press 1, for support press 2.", "main"},
		{"2", "Hello +6591178965", "main"},
		{"7", "For sales press 1, for support press 2.", "main"},
		{"", "Goodbye.", ""},
	}
	for _, s := range steps {
		body := c.keys(s.keys)
		if s.keys == "start" {
			body = c.start()
		}
		reply := h.post(body, "menus")
		c.remember(reply)
		if got := replyText(t, reply); got != s.heard || c.lastID != s.id {
			t.Fatalf("keys %q: heard %q at %q, want %q at %q", s.keys, got, c.lastID, s.heard, s.id)
		}
	}
}
