package engine

// TopLevelsRun is how many top levels loads have run, in this process.
func TopLevelsRun() int64 { return topLevelsRun.Load() }

// ScriptsRun is how many events ran Lua, in this process.
func ScriptsRun() int64 { return scriptsRun.Load() }

// WithoutAnswers makes every app of s run its script for every event, as if
// no answer were known at load: the path Answers must agree with.
func WithoutAnswers(s *Scripts) {
	for _, app := range s.Apps {
		app.answers = nil
	}
}

// HasAnswers reports whether the app's replies without Lua were worked out
// at load (its top level reads nothing from outside the script).
func HasAnswers(s *Scripts, app string) bool { return s.Apps[app].answering() }

// WarmPools is how many app versions e keeps warm states for.
func WarmPools(e *Engine) int {
	n := 0
	e.pools.Range(func(_, _ any) bool { n++; return true })
	return n
}

// TrustAnswers forgets what the second run of app's top level at load
// showed, as if the two runs had built the same answers by chance.
func TrustAnswers(s *Scripts, app string) { s.Apps[app].answersDiffer.Store(false) }
