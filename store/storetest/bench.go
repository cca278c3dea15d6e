package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
)

// benchReply is a restaurant reply, as a CALL_ACTION's entry and reply hold it.
var benchReply = []byte(`{"clientActionId":"reservations","callflow":[{"action":"sayAndCapture","params":{"promptMessage":"Press 1 to make a new reservation, press 2 to reschedule an existing reservation, press 3 to return to main menu.","voiceProfile":"en-US-BenjaminRUS","speed":1,"minDigits":1,"maxDigits":1,"digitTimeout":10000,"overallTimeout":10000,"noOfTries":2}}]}`)

// BenchmarkCommit measures the store's share of an event as serve runs it:
// Begin (the lease and the session read) and one atomic commit (session,
// transcript entry, reply), over 1000 sessions. Every store's benchmark calls it, so
// their figures compare.
func BenchmarkCommit(b *testing.B, st store.Store) {
	ctx := context.Background()
	reply := benchReply
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("s-%d", i%1000)
		s := store.Session{ID: id, App: "restaurant", Vars: []byte(`{"n":1}`), Created: time.Now(), Updated: time.Now()}
		c := store.Commit{Session: s, Entry: store.Entry{At: time.Now(), EventType: "CALL_ACTION", Reply: reply},
			ReplyKey: fmt.Sprintf("CALL_ACTION\x00%s\x00e%d", id, i), Reply: reply}
		if err := Commit(ctx, st, c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitParallel is BenchmarkCommit from b's parallel goroutines,
// each on sessions of its own, as concurrent calls commit.
func BenchmarkCommitParallel(b *testing.B, st store.Store) {
	ctx := context.Background()
	var worker atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := worker.Add(1)
		for i := 0; pb.Next(); i++ {
			id := fmt.Sprintf("p%d-%d", w, i%100)
			s := store.Session{ID: id, App: "restaurant", Vars: []byte(`{"n":1}`), Created: time.Now(), Updated: time.Now()}
			c := store.Commit{Session: s, Entry: store.Entry{At: time.Now(), EventType: "CALL_ACTION", Reply: benchReply},
				ReplyKey: fmt.Sprintf("CALL_ACTION\x00%s\x00e%d", id, i), Reply: benchReply}
			if err := Commit(ctx, st, c); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSessionRead measures reading one of 1000 sessions.
func BenchmarkSessionRead(b *testing.B, st store.Store) {
	ctx := context.Background()
	for i := range 1000 {
		s := store.Session{ID: fmt.Sprintf("s-%d", i), App: "restaurant", Vars: []byte(`{"n":1}`)}
		if err := Commit(ctx, st, store.Commit{Session: s}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, ok, err := st.Session(ctx, fmt.Sprintf("s-%d", i%1000)); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
