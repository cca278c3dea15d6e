package engine

// TopLevelsRun is how many top levels loads have run, in this process.
func TopLevelsRun() int64 { return topLevelsRun.Load() }
