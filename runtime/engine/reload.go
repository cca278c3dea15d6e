package engine

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Reload loads the script folder again and serves what passes. Only what
// changed is run and vetted: an app whose source and modules are unchanged
// costs nothing, whether it was served or refused. A new version that fails
// to compile or load, that vet refuses (serve runs check), or that claims a
// number another app answers is refused, and its previous version keeps
// serving; each refusal says what serves instead. A removed app takes no new
// calls but finishes the calls it was serving. New calls get the new
// version at once; with Options.PinVersions the calls in progress finish on
// the version they started on (versions.go), otherwise their next event
// runs the new version. An app Rollback set back serves on as it is until
// its file changes.
//
// The first Reload after Scan is serve's start: it serves each app as soon
// as it loads and does not vet (serve reports what check finds instead).
// Reload and Rollback take turns.
func (e *Engine) Reload(vet func(s *Scripts, app string) error) (changed []string, refused []error) {
	e.reloading.Lock()
	defer e.reloading.Unlock()
	old := e.scripts.Load()
	var watch *progress
	if old.loading != nil {
		vet, watch = nil, e.serveAsLoaded(old.loading)
	}
	fresh, errs := load(old.Dir, old, watch)
	next := &Scripts{Dir: old.Dir, Apps: map[string]*App{}, Retired: map[string]*App{},
		modules: fresh.modules, libSum: fresh.libSum, sources: fresh.sources, refused: fresh.refused,
		rolledBack: map[string]rollback{}}
	for _, name := range fresh.Names() {
		app, prev := fresh.Apps[name], old.Apps[name]
		rb, rolledBack := old.rolledBack[name]
		if rolledBack && app == rb.file { // the file is as it was rolled back from
			next.Apps[name], next.rolledBack[name] = prev, rb
			continue
		}
		if app != prev && vet != nil {
			if err := vet(fresh, name); err != nil {
				errs = append(errs, err)
				next.refused[name] = refusal{sum: app.Sum, libSum: fresh.libSum, err: err}
				app = prev
			}
		}
		if rolledBack && app != prev { // a refused version's refusal says what serves instead
			e.log.Info("app's file changed since its rollback: the file is served again", "app", name, "file", app.File, "version", app.Version(), "rolled_back_to", prev.Version())
		}
		if app != nil {
			next.Apps[name] = app
		}
	}
	for name, prev := range old.Apps {
		if next.Apps[name] != nil {
			continue
		}
		if _, present := fresh.sources[prev.File]; present { // there, but refused
			next.Apps[name] = prev
		} else {
			next.Retired[name] = prev
		}
	}
	for name, r := range old.Retired {
		if next.Apps[name] == nil && next.Retired[name] == nil {
			next.Retired[name] = r
		}
	}
	for _, err := range next.claimNumbers(old) {
		if !next.claimedAsBefore(old, fresh, err) {
			errs = append(errs, err)
		}
	}
	for _, err := range errs {
		refused = append(refused, next.consequence(err))
	}
	for name, app := range next.Apps {
		if old.Apps[name] != app {
			changed = append(changed, name)
		}
	}
	for name := range next.Retired {
		if old.Apps[name] != nil {
			changed = append(changed, name+" (removed)")
		}
	}
	sort.Strings(changed)
	e.scripts.Store(next) // even when nothing changed: next remembers what it refused
	e.keep(old, next)
	if old.loading != nil {
		old.loading.over()
	}
	return changed, refused
}

// claimedAsBefore reports whether a refusal for a number another app answers
// is the one the previous reload made: the same version of the app, the same
// modules, not served then, and each of its numbers answered by the same app
// as then. Such an app is loaded again at every reload (it is refused only
// for a conflict, which an edit elsewhere may end), but said once.
func (next *Scripts) claimedAsBefore(old, fresh *Scripts, err error) bool {
	var se *ScriptError
	if !errors.As(err, &se) {
		return false
	}
	name := strings.TrimSuffix(se.File, ".lua")
	app, was := fresh.Apps[name], old.sources[se.File]
	if app == nil || old.libSum != next.libSum || was.err != nil || was.sum != app.Sum {
		return false
	}
	if prev := old.Apps[name]; prev != nil && prev.Sum == app.Sum {
		return false // it was served then
	}
	for _, n := range app.Numbers {
		if ownerName(old.byNumber[n]) != ownerName(next.byNumber[n]) {
			return false
		}
	}
	return true
}

func ownerName(a *App) string {
	if a == nil {
		return ""
	}
	return a.Name
}

// consequence adds to a refusal what serves instead, so that the log says
// what happened, not only what was wrong.
func (s *Scripts) consequence(err error) error {
	var se *ScriptError
	var said *refusedError
	if errors.As(err, &said) || !errors.As(err, &se) || !IsApp(se.File) {
		return err
	}
	name := strings.TrimSuffix(se.File, ".lua")
	if s.Apps[name] != nil {
		return &refusedError{err, "its previous version serves on"}
	}
	return &refusedError{err, name + " is not served"}
}

type refusedError struct {
	err  error
	what string
}

func (r *refusedError) Error() string { return r.err.Error() + "; " + r.what }
func (r *refusedError) Unwrap() error { return r.err }

// loadWait bounds how long events wait for serve's first load.
const loadWait = topLevelBudget

// loading is serve's first load under way. Events wait until every app had
// its first try (firstTry each, one per core: every good app is loaded by
// then), or loadWait at most. An app that needs a second try is slow or
// broken: it does not hold up the others, and its events get the fallback
// until it loads.
type loading struct {
	done  chan struct{} // closed when events stop waiting
	once  sync.Once
	until time.Time // when events stop waiting, at the latest
}

func (l *loading) over() { l.once.Do(func() { close(l.done) }) }

// served returns the scripts to route an event with: while serve's first
// load is under way, the apps loaded after the wait (see loading).
func (e *Engine) served() *Scripts {
	s := e.scripts.Load()
	if l := s.loading; l != nil {
		if wait := time.Until(l.until); wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-l.done:
			case <-t.C:
			}
			s = e.scripts.Load()
		}
	}
	return s
}

// serveAsLoaded serves each app of the first load as soon as it loads,
// beside those loaded before it.
func (e *Engine) serveAsLoaded(l *loading) *progress {
	var mu sync.Mutex
	return &progress{tried: l.over, loaded: func(app *App) {
		mu.Lock()
		defer mu.Unlock()
		cur := e.scripts.Load()
		next := *cur
		next.Apps = maps.Clone(cur.Apps)
		next.Apps[app.Name] = app
		_ = next.claimNumbers(nil) // the load's end decides, and reports
		e.scripts.Store(&next)
	}}
}

// Watch calls changed at once, for the folder as it is, then polls dir every
// interval and calls changed again when a .lua file is added, removed or
// modified: a change made while the first call runs is not missed. Polling,
// rather than file system events, works the same on every file system,
// container volumes included. It returns when ctx ends.
func Watch(ctx context.Context, dir string, interval time.Duration, changed func()) {
	last := fingerprint(dir)
	changed()
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
