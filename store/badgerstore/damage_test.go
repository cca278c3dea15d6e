package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/luaivr/luaivr/runtime/logtest"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/luaivr/luaivr/store"
	"github.com/luaivr/luaivr/store/storetest"
)

type syncBuffer = logtest.Buffer

// bigCommit is event 0 of call k, with an event and a reply over the value
// threshold, so that both the LSM tree and the value log hold data.
func bigCommit(k int) store.Commit {
	c := commitOf(fmt.Sprint("call-", k), 0)
	c.Entry.Event = fmt.Appendf(nil, `{"k":%d,"pad":%q}`, k, strings.Repeat("e", 1500))
	c.Reply = fmt.Appendf(nil, `{"k":%d,"pad":%q}`, k, strings.Repeat("r", 1500))
	return c
}

const damageCalls = 1500

// folders makes, once, the two folders the damage cases start from: one
// closed cleanly (its data in a table and a value log) and one copied while
// its store was open, which is what a crash leaves (its data in a
// write-ahead log).
var folders = sync.OnceValues(func() ([2]string, error) {
	var none [2]string
	root, err := os.MkdirTemp("", "badgerstore-damage-")
	if err != nil {
		return none, err
	}
	closed, crashed := filepath.Join(root, "closed"), filepath.Join(root, "crashed")
	for _, dir := range []string{closed, crashed} {
		s, err := Open(Options{Dir: dir, GCInterval: -1})
		if err != nil {
			return none, err
		}
		for k := range damageCalls {
			if err := storetest.Commit(context.Background(), s, bigCommit(k)); err != nil {
				return none, err
			}
		}
		if dir == crashed {
			if err := copyFolder(dir, dir+".copy"); err != nil {
				return none, err
			}
		}
		if err := s.Close(); err != nil {
			return none, err
		}
	}
	// Opened once more, the closed folder records its tables as checked:
	// damage done to them since must be found all the same.
	s, err := Open(Options{Dir: closed, GCInterval: -1})
	if err != nil {
		return none, err
	}
	if err := s.Close(); err != nil {
		return none, err
	}
	return [2]string{closed, crashed + ".copy"}, nil
})

// copyFolder copies a data folder's files, with their modification times,
// leaving holes where they are zeros (Badger's logs are large and mostly
// unwritten).
func copyFolder(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "LOCK" {
			continue
		}
		if err := copySparse(filepath.Join(from, e.Name()), filepath.Join(to, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copySparse(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	defer out.Close()
	buf, zeros := make([]byte, 1<<20), make([]byte, 1<<20)
	var size int64
	for {
		n, err := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], zeros[:n]) {
			if _, err := out.WriteAt(buf[:n], size); err != nil {
				return err
			}
		}
		size += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			info, err := in.Stat()
			if err != nil {
				return err
			}
			if err := out.Truncate(size); err != nil {
				return err
			}
			return os.Chtimes(to, info.ModTime(), info.ModTime())
		}
		if err != nil {
			return err
		}
	}
}

// only returns the one file of the folder with this suffix.
func only(t *testing.T, dir, suffix string) string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*"+suffix))
	slices.Sort(names)
	if len(names) == 0 {
		t.Fatalf("no %s file in %s", suffix, dir)
	}
	return filepath.Base(names[0]) // the oldest: the one holding the data
}

func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// overwrite writes n bytes of 0xA5 at the middle of a file.
func overwrite(t *testing.T, path string, n int) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, n), info.Size()/2); err != nil {
		t.Fatal(err)
	}
}

func truncateTo(t *testing.T, path string, fraction float64) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, int64(float64(info.Size())*fraction)); err != nil {
		t.Fatal(err)
	}
}

// Each kind of damage Badger would hide or crash on is refused, naming the
// file, without touching the folder; Repair opens it, logs what it dropped,
// and the repaired folder opens afterwards without Repair.
func TestDamageRefused(t *testing.T) {
	t.Parallel()
	from, err := folders()
	if err != nil {
		t.Fatal(err)
	}
	closed, crashed := from[0], from[1]
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(closed)) })
	tests := []struct {
		name     string
		from     string
		damage   func(t *testing.T, dir string) (file string)
		problem  string // in the error, after the file's name
		noDamage bool   // a control: this is what a crash leaves, and opens as is
	}{
		{name: "MANIFEST missing", from: closed, problem: "is missing",
			damage: func(t *testing.T, dir string) string { os.Remove(filepath.Join(dir, "MANIFEST")); return "MANIFEST" }},
		{name: "MANIFEST cut short", from: closed, problem: "does not list",
			damage: func(t *testing.T, dir string) string {
				os.Truncate(filepath.Join(dir, "MANIFEST"), 8) // its magic only
				return "MANIFEST"
			}},
		{name: "MANIFEST damaged", from: closed, problem: "is damaged",
			damage: func(t *testing.T, dir string) string {
				overwrite(t, filepath.Join(dir, "MANIFEST"), 2)
				return "MANIFEST"
			}},
		{name: "key registry damaged", from: closed, problem: "is damaged",
			damage: func(t *testing.T, dir string) string {
				os.Truncate(filepath.Join(dir, "KEYREGISTRY"), 5)
				return "KEYREGISTRY"
			}},
		{name: "table missing", from: closed, problem: "is listed in the MANIFEST but missing",
			damage: func(t *testing.T, dir string) string {
				name := only(t, dir, ".sst")
				os.Remove(filepath.Join(dir, name))
				return name
			}},
		{name: "table cut short", from: closed, problem: "is damaged",
			damage: func(t *testing.T, dir string) string {
				name := only(t, dir, ".sst")
				truncateTo(t, filepath.Join(dir, name), 0.5)
				return name
			}},
		{name: "table damaged", from: closed, problem: "is damaged",
			damage: func(t *testing.T, dir string) string {
				name := only(t, dir, ".sst")
				overwrite(t, filepath.Join(dir, name), 64)
				return name
			}},
		{name: "value log cut short", from: closed, problem: "is cut short",
			damage: func(t *testing.T, dir string) string {
				name := only(t, dir, ".vlog")
				truncateTo(t, filepath.Join(dir, name), 0.6)
				return name
			}},
		{name: "value log damaged", from: closed, problem: "is damaged at byte",
			damage: func(t *testing.T, dir string) string {
				name := only(t, dir, ".vlog")
				overwrite(t, filepath.Join(dir, name), 64)
				return name
			}},
		{name: "write-ahead log damaged", from: crashed, problem: "is damaged at byte",
			damage: func(t *testing.T, dir string) string {
				name := only(t, dir, ".mem")
				c, err := checkLog(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				f, _ := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
				f.WriteAt(bytes.Repeat([]byte{0xA5}, 16), c.intact/2)
				f.Close()
				return name
			}},
		{name: "write-ahead log cut short", from: crashed, problem: "is cut short",
			damage: func(t *testing.T, dir string) string {
				name := only(t, dir, ".mem")
				c, err := checkLog(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				os.Truncate(filepath.Join(dir, name), c.intact/2)
				return name
			}},
		{name: "crash, as is", from: crashed, noDamage: true,
			damage: func(t *testing.T, dir string) string { return "" }},
		{name: "crash with a torn last entry", from: crashed, noDamage: true,
			damage: func(t *testing.T, dir string) string {
				// Half of the first entry again after the last: a write
				// the crash interrupted.
				name := only(t, dir, ".mem")
				path := filepath.Join(dir, name)
				c, err := checkLog(path)
				if err != nil {
					t.Fatal(err)
				}
				f, _ := os.OpenFile(path, os.O_RDWR, 0)
				first := make([]byte, 200)
				f.ReadAt(first, logHeaderSize)
				f.WriteAt(first[:100], c.intact)
				f.Close()
				return ""
			}},
		{name: "crash without a MANIFEST", from: crashed, noDamage: true, // the write-ahead log holds everything
			damage: func(t *testing.T, dir string) string { os.Remove(filepath.Join(dir, "MANIFEST")); return "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			if err := copyFolder(tt.from, dir); err != nil {
				t.Fatal(err)
			}
			file := tt.damage(t, dir)
			before := fileNames(t, dir)
			logs := &syncBuffer{}
			opts := Options{Dir: dir, GCInterval: -1, Logger: slog.New(slog.NewTextHandler(logs, nil))}

			s, err := Open(opts)
			if tt.noDamage {
				if err != nil {
					t.Fatalf("Open of what a crash leaves: %v", err)
				}
				if _, ok, err := s.Session(t.Context(), "call-7"); !ok || err != nil {
					t.Errorf("after the crash call-7 is ok %v, err %v; want it kept", ok, err)
				}
				s.Close()
				return
			}
			var damaged *DamageError
			if !errors.As(err, &damaged) {
				if err == nil {
					s.Close()
				}
				t.Fatalf("Open of a folder whose %s: %v, want a DamageError", tt.name, err)
			}
			if want := file + ": " + tt.problem; !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--repair") {
				t.Errorf("Open: %v\nwant it to say %q and to offer --repair", err, want)
			}
			if after := fileNames(t, dir); !slices.Equal(before, after) {
				t.Errorf("refusing changed the folder: files %v, were %v", after, before)
			}

			opts.Repair = true
			s, err = Open(opts)
			if err != nil {
				t.Fatalf("Open with Repair: %v", err)
			}
			if l := logs.String(); !strings.Contains(l, "repair: dropped") || !strings.Contains(l, "file="+file) {
				t.Errorf("Repair did not log what it dropped from %s:\n%s", file, l)
			}
			if err := storetest.Commit(t.Context(), s, commitOf("after-repair", 0)); err != nil {
				t.Errorf("Commit after Repair: %v", err)
			}
			if _, ok, err := s.Session(t.Context(), "after-repair"); !ok || err != nil {
				t.Errorf("a session saved after Repair: ok %v, err %v", ok, err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close after Repair: %v", err)
			}
			opts.Repair = false
			s, err = Open(opts)
			if err != nil {
				t.Fatalf("Open after Repair, without it: %v", err)
			}
			if _, ok, err := s.Session(t.Context(), "after-repair"); !ok || err != nil {
				t.Errorf("after reopening, the session saved after Repair: ok %v, err %v", ok, err)
			}
			s.Close()
		})
	}
}
