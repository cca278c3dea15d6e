package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Reload loads the script folder again and serves what passes. An app whose
// new version fails to compile or load, or that vet refuses (serve runs
// check), keeps serving its previous version. A removed app takes no new
// calls but finishes the calls it was serving. Calls in progress go on with
// their session; their next event runs the new version.
func (e *Engine) Reload(vet func(s *Scripts, app string) error) (changed []string, refused []error) {
	old := e.scripts.Load()
	fresh, loadErrs := Load(old.Dir)
	next := &Scripts{Dir: old.Dir, Apps: map[string]*App{}, Retired: map[string]*App{},
		modules: fresh.modules, libSum: fresh.libSum}
	broken := map[string]bool{}
	for _, err := range loadErrs {
		var se *ScriptError
		if errors.As(err, &se) && IsApp(se.File) {
			broken[strings.TrimSuffix(se.File, ".lua")] = true
		}
		refused = append(refused, err)
	}
	libsChanged := fresh.libSum != old.libSum
	for _, name := range fresh.Names() {
		app, prev := fresh.Apps[name], old.Apps[name]
		if prev != nil && prev.Sum == app.Sum && !libsChanged {
			next.Apps[name] = prev
			continue
		}
		if vet != nil {
			if err := vet(fresh, name); err != nil {
				refused = append(refused, err)
				if prev != nil {
					next.Apps[name] = prev
				}
				continue
			}
		}
		next.Apps[name] = app
		changed = append(changed, name)
	}
	for name, prev := range old.Apps {
		switch {
		case next.Apps[name] != nil:
		case broken[name]:
			next.Apps[name] = prev
		default:
			next.Retired[name] = prev
			changed = append(changed, name+" (removed)")
		}
	}
	for name, r := range old.Retired {
		if next.Apps[name] == nil && next.Retired[name] == nil {
			next.Retired[name] = r
		}
	}
	refused = append(refused, next.index()...)
	if len(changed) > 0 {
		sort.Strings(changed)
		e.scripts.Store(next)
	}
	return changed, refused
}

// Watch polls dir every interval and calls changed when a .lua file is added,
// removed or modified. Polling, rather than file system events, works the
// same on every file system, container volumes included. It returns when ctx
// ends.
func Watch(ctx context.Context, dir string, interval time.Duration, changed func()) {
	last := fingerprint(dir)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if fp := fingerprint(dir); fp != last {
				last = fp
				changed()
			}
		}
	}
}

func fingerprint(dir string) [sha256.Size]byte {
	h := sha256.New()
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".lua") {
			return nil
		}
		if info, err := d.Info(); err == nil {
			fmt.Fprintf(h, "%s\x00%d\x00%d\n", path, info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	var sum [sha256.Size]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
