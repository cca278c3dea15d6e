package engine

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/luaivr/luaivr/store"
)

// The versions calls finish on. A call runs every event on the app version it
// started on (Options.PinVersions): a reload, a rollback or a removed file
// changes what new calls get at once, and nothing for the calls in progress,
// which would otherwise hear the new version mid-call and, when their menu is
// gone, start again at the root.
//
// Every version that was served is kept, as the *App it was (compiled code,
// menus, the modules of its load), so a session finds its version by the
// name it recorded (store.Session.Version). What is kept is bounded, at
// each reload and rollback:
//   - by time: a version no event ran on, and not served, for the session TTL
//     is dropped, since every session that started on it has expired;
//   - by count: past maxVersions of one app, the oldest versions no live call
//     uses go first, then the oldest (logged: those calls go on with the
//     version served).
//
// A call whose version is not kept here (another instance started it, or it
// was dropped) goes on with the version served, with a warning in the log.
// The same history serves Rollback.

// maxVersions bounds the versions kept of one app, the served one included.
const maxVersions = 8

// countLimit bounds the sessions read to count the calls on each version.
const countLimit = 10000

// versions are the versions kept of each app, in the order they were first
// served. It is safe for concurrent use.
type versions struct {
	mu    sync.Mutex
	byApp map[string][]*kept
}

// kept is one version of an app.
type kept struct {
	app *App
	// used is when an event last ran on it, or when it was last served.
	used time.Time
}

// serve notes what s serves at now: each served version is kept (as the
// newest when it is new) and counts as used.
func (v *versions) serve(s *Scripts, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byApp == nil {
		v.byApp = map[string][]*kept{}
	}
	for _, apps := range []map[string]*App{s.Apps, s.Retired} {
		for name, app := range apps {
			if k := v.findLocked(name, app.Version()); k != nil {
				k.used = now
				continue
			}
			v.byApp[name] = append(v.byApp[name], &kept{app: app, used: now})
		}
	}
}

// ran notes that an event ran on app at now.
func (v *versions) ran(app *App, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k := v.findLocked(app.Name, app.Version()); k != nil && now.After(k.used) {
		k.used = now
	}
}

// find returns the kept version of app name, or nil.
func (v *versions) find(name, version string) *App {
	v.mu.Lock()
	defer v.mu.Unlock()
	if k := v.findLocked(name, version); k != nil {
		return k.app
	}
	return nil
}

func (v *versions) findLocked(name, version string) *kept {
	for _, k := range v.byApp[name] {
		if k.app.Version() == version {
			return k
		}
	}
	return nil
}

// before returns the version kept of app name that was first served just
// before version, or nil.
func (v *versions) before(name, version string) *App {
	v.mu.Lock()
	defer v.mu.Unlock()
	list := v.byApp[name]
	for i, k := range list {
		if k.app.Version() == version && i > 0 {
			return list[i-1].app
		}
	}
	return nil
}

// trim drops what no call can use any more (see the package comment): the
// versions s does not serve whose last use is older than ttl, and, past
// maxVersions of an app, the oldest, those without live calls first. live
// counts the live calls of each version ("app\x00version"), when known.
func (v *versions) trim(s *Scripts, now time.Time, ttl time.Duration, live map[string]int, log *slog.Logger) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for name, list := range v.byApp {
		served := map[string]bool{}
		for _, apps := range []map[string]*App{s.Apps, s.Retired} {
			if app := apps[name]; app != nil {
				served[app.Version()] = true
			}
		}
		out := list[:0:0]
		for _, k := range list {
			if served[k.app.Version()] || now.Sub(k.used) <= ttl {
				out = append(out, k)
				continue
			}
			log.Info("app version dropped: no call can still use it (none ran on it for the session TTL)",
				"app", name, "version", k.app.Version(), "session_ttl", ttl)
		}
		for len(out) > maxVersions {
			drop := -1
			for i, k := range out { // the oldest without live calls, else the oldest
				if served[k.app.Version()] {
					continue
				}
				if drop < 0 {
					drop = i
				}
				if live[name+"\x00"+k.app.Version()] == 0 {
					drop = i
					break
				}
			}
			if drop < 0 {
				break // cannot happen: an app serves one version
			}
			k := out[drop]
			if n := live[name+"\x00"+k.app.Version()]; n > 0 {
				log.Warn(fmt.Sprintf("app version dropped while calls still use it: %d versions of the app are kept at most; their next events run the version served", maxVersions),
					"app", name, "version", k.app.Version(), "calls", n)
			} else {
				log.Info(fmt.Sprintf("app version dropped: %d versions of the app are kept at most, and no live call uses it", maxVersions),
					"app", name, "version", k.app.Version())
			}
			out = append(out[:drop], out[drop+1:]...)
		}
		if len(out) == 0 {
			delete(v.byApp, name)
		} else {
			v.byApp[name] = out
		}
	}
}

// AppVersions are the versions of one app an engine serves, for /admin/apps.
type AppVersions struct {
	App string `json:"app"`
	// Status is "served", "rolled back" (an earlier version than the file's
	// is served, until the file changes) or "removed" (the file is gone: it
	// finishes its calls).
	Status   string        `json:"status"`
	Versions []VersionInfo `json:"versions"`
}

// VersionInfo is one version of an app.
type VersionInfo struct {
	Version string `json:"version"`
	// Current: new calls get it (a removed app's last version is listed
	// first, not current).
	Current bool `json:"current,omitempty"`
	// Kept is false for a version live calls started on that this instance
	// does not have (another instance served it, or it was dropped): those
	// calls go on with the current version here.
	Kept bool `json:"kept"`
	// Calls counts the live calls that started on it, among the sessions
	// read (see VersionReport).
	Calls    int       `json:"live_calls"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// VersionReport is what Versions answers.
type VersionReport struct {
	Apps []AppVersions `json:"apps"`
	// Counted is how many live sessions were read to count the calls;
	// Partial is set when there were more than it reads (countLimit).
	Counted int  `json:"sessions_counted"`
	Partial bool `json:"partial,omitempty"`
}

// Versions lists, per app, the versions it serves (the current first, then
// the newest first) with the live calls that started on each.
func (e *Engine) Versions(ctx context.Context) (VersionReport, error) {
	live, counted, partial, err := e.liveCalls(ctx)
	if err != nil {
		return VersionReport{}, err
	}
	s := e.Scripts()
	e.versions.mu.Lock()
	defer e.versions.mu.Unlock()
	names := map[string]bool{}
	for name := range e.versions.byApp {
		names[name] = true
	}
	for _, apps := range []map[string]*App{s.Apps, s.Retired} {
		for name := range apps {
			names[name] = true
		}
	}
	for key := range live {
		name, _ := splitKey(key)
		names[name] = true
	}
	rep := VersionReport{Apps: []AppVersions{}, Counted: counted, Partial: partial}
	for name := range names {
		av := AppVersions{App: name, Status: "served"}
		cur := s.Apps[name]
		switch {
		case cur == nil && s.Retired[name] != nil:
			cur, av.Status = s.Retired[name], "removed"
		case cur == nil:
			av.Status = "not served here"
		case s.RolledBack(name):
			av.Status = "rolled back"
		}
		seen := map[string]bool{}
		list := e.versions.byApp[name]
		for i := len(list) - 1; i >= 0; i-- {
			k := list[i]
			ver := k.app.Version()
			seen[ver] = true
			vi := VersionInfo{Version: ver, Kept: true, Calls: live[name+"\x00"+ver], LastUsed: k.used, Current: s.Apps[name] == cur && cur != nil && cur.Version() == ver}
			if cur != nil && cur.Version() == ver { // the served one first, or a removed app's last
				av.Versions = append([]VersionInfo{vi}, av.Versions...)
			} else {
				av.Versions = append(av.Versions, vi)
			}
		}
		var others []VersionInfo
		for key, n := range live {
			if app, ver := splitKey(key); app == name && !seen[ver] {
				others = append(others, VersionInfo{Version: ver, Calls: n})
			}
		}
		sort.Slice(others, func(i, j int) bool { return others[i].Version < others[j].Version })
		av.Versions = append(av.Versions, others...)
		rep.Apps = append(rep.Apps, av)
	}
	sort.Slice(rep.Apps, func(i, j int) bool { return rep.Apps[i].App < rep.Apps[j].App })
	return rep, nil
}

// liveCalls counts the sessions not ended per "app\x00version", reading at
// most countLimit of them.
func (e *Engine) liveCalls(ctx context.Context) (live map[string]int, counted int, partial bool, err error) {
	live = map[string]int{}
	if e.opts.Store == nil {
		return live, 0, false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err = e.opts.Store.Sessions(ctx, func(s store.Session) bool {
		if counted == countLimit {
			partial = true
			return false
		}
		counted++
		if !s.Ended && s.App != "" && s.Version != "" {
			live[s.App+"\x00"+s.Version]++
		}
		return true
	})
	return live, counted, partial, err
}

func splitKey(key string) (app, version string) {
	for i := range len(key) {
		if key[i] == 0 {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}

// keep notes that s serves instead of old, and drops what no call can use
// (see versions). What old served counts as used until now: new calls may
// have started on it until then, and it may be rolled back to.
func (e *Engine) keep(old, s *Scripts) {
	now := e.opts.Now()
	e.versions.serve(old, now)
	e.versions.serve(s, now)
	var live map[string]int
	if e.versions.crowded() { // counted outside the lock: events look versions up meanwhile
		var err error
		if live, _, _, err = e.liveCalls(context.Background()); err != nil {
			e.log.Warn("store: counting the calls on each app version failed; the oldest versions are dropped first", "err", err)
		}
	}
	e.versions.trim(s, now, e.opts.SessionTTL, live, e.log)
	e.prunePools(s)
}

// crowded reports whether an app has more than maxVersions kept.
func (v *versions) crowded() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, list := range v.byApp {
		if len(list) > maxVersions {
			return true
		}
	}
	return false
}

// Rollback serves the version of app name that was served before the
// current one to new calls again, without touching the files; the calls in
// progress go on with their own version. It lasts until the app's file
// changes: the reload after that serves the file. It returns both versions.
func (e *Engine) Rollback(name string) (from, to string, err error) {
	e.reloading.Lock()
	defer e.reloading.Unlock()
	cur := e.scripts.Load()
	app := cur.Apps[name]
	if app == nil {
		if cur.Retired[name] != nil {
			return "", "", fmt.Errorf("app %s was removed (its file is gone): there is nothing to roll back; put the file back to serve it", name)
		}
		return "", "", fmt.Errorf("no app %s is served (apps: %v)", name, cur.Names())
	}
	prev := e.versions.before(name, app.Version())
	if prev == nil {
		return "", "", fmt.Errorf("app %s has no previous version to roll back to: no version this instance keeps was served before %s (it keeps what it served since it started, at most %d versions of an app, none past --session-ttl after its last use)",
			name, app.Version(), maxVersions)
	}
	next := *cur
	next.Apps = make(map[string]*App, len(cur.Apps))
	for n, a := range cur.Apps {
		next.Apps[n] = a
	}
	next.Apps[name] = prev
	next.rolledBack = map[string]rollback{}
	for n, rb := range cur.rolledBack {
		next.rolledBack[n] = rb
	}
	rb, ok := cur.rolledBack[name]
	if !ok {
		rb = rollback{file: app}
	}
	next.rolledBack[name] = rb
	if errs := next.claimNumbers(cur); len(errs) > 0 {
		return "", "", fmt.Errorf("app %s cannot be rolled back to version %s: %w", name, prev.Version(), errs[0])
	}
	e.scripts.Store(&next)
	e.keep(cur, &next)
	e.log.Info("app rolled back: new calls get its previous version; the files are not touched, and the next change of the app's file serves the file again",
		"app", name, "version", prev.Version(), "was", app.Version(), "file_version", rb.file.Version())
	return app.Version(), prev.Version(), nil
}

// rollback is an app Rollback serves an earlier version of.
type rollback struct {
	file *App // the version of the file when it was rolled back
}
