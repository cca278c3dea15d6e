package storetest

import (
	"testing"
	"time"

	"github.com/luaivr/luaivr/store"
)

// testTTL checks store.go's time-to-live rules: sessions with their
// transcripts, replies (no later than their entries) and kv keys each expire
// after their own TTL, by themselves, and a write renews only what it writes.
func testTTL(t *testing.T, open Open) {
	tests := []struct {
		name                 string
		sessionTTL, replyTTL time.Duration
	}{
		{"session expires first", time.Second, time.Hour},
		{"reply expires first", time.Hour, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t, store.Options{SessionTTL: tc.sessionTTL, ReplyTTL: tc.replyTTL})
			defer s.Close()
			ctx := t.Context()
			c := event("call-1", 0)
			commit(t, s, c)
			short := tc.sessionTTL < tc.replyTTL
			waitFor(t, "the shorter TTL to pass", func() bool {
				_, sess, _ := s.Session(ctx, "call-1")
				_, replied, _ := reply(ctx, s, "call-1", c.ReplyKey)
				return !sess || !replied
			})
			_, sess, _ := s.Session(ctx, "call-1")
			entries, _ := s.Transcript(ctx, "call-1")
			_, replied, _ := reply(ctx, s, "call-1", c.ReplyKey)
			listed := 0
			s.Sessions(ctx, func(store.Session) bool { listed++; return true })
			if short && (sess || len(entries) != 0 || listed != 0 || replied) {
				t.Errorf("after the session TTL: session %v, %d entries, listed %d, reply %v; want nothing (a reply lives no longer than its entry)", sess, len(entries), listed, replied)
			}
			if !short && (!sess || len(entries) != 1 || listed != 1 || replied) {
				t.Errorf("after the reply TTL: session %v, %d entries, listed %d, reply %v; want all but the reply", sess, len(entries), listed, replied)
			}
			if short { // an expired session starts again from nothing
				commit(t, s, event("call-1", 0))
				wantTranscript(t, s, "call-1", []store.Entry{event("call-1", 0).Entry})
			}
		})
	}
	t.Run("kv", func(t *testing.T) {
		t.Parallel()
		s := open(t, store.Options{})
		defer s.Close()
		ctx := t.Context()
		set := func(key string, ttl time.Duration) {
			if err := s.KVSet(ctx, "app", key, []byte("1"), ttl, store.KVQuota{}); err != nil {
				t.Fatal(err)
			}
		}
		set("brief", time.Second)
		set("kept", 0)
		set("renewed", time.Second)
		if _, err := s.KVIncr(ctx, "app", "counter", 1, time.Second, store.KVQuota{}); err != nil {
			t.Fatal(err)
		}
		set("renewed", time.Hour)                                                         // a write gives the key its new ttl
		if _, err := s.KVIncr(ctx, "app", "counter", 1, 0, store.KVQuota{}); err != nil { // keeps its expiry
			t.Fatal(err)
		}
		waitFor(t, "kv keys with a ttl of 1s to expire", func() bool {
			_, brief, _ := s.KVGet(ctx, "app", "brief")
			_, counter, _ := s.KVGet(ctx, "app", "counter")
			return !brief && !counter
		})
		list, err := s.KVList(ctx, "app", "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, p := range list {
			keys = append(keys, p.Key)
		}
		if len(keys) != 2 || keys[0] != "kept" || keys[1] != "renewed" {
			t.Errorf("kv holds %q after the 1s ttl, want [kept renewed]", keys)
		}
	})
}
