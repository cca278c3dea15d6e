package redistest

import "syscall"

// procAttr kills the server with the test binary, should the test not get to
// stop it.
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
