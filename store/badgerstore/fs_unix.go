//go:build linux || darwin || freebsd

package badgerstore

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// errFreeUnknown: this system cannot tell a folder's free space.
var errFreeUnknown = errors.New("free space unknown")

// freeSpace is how many bytes an unprivileged process can still write to the
// file system that holds dir.
func freeSpace(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// errLocked: another process holds the folder.
var errLocked = errors.New("data folder locked")

// lockFolder takes the lock Badger takes on its folder (flock of the folder
// itself), so that the store can check the folder before Badger opens it.
func lockFolder(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	// A lock held for a moment is waited for: a process starting a child
	// shares its descriptors until the child's exec closes them, and a
	// server being restarted may still be exiting.
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	for try := 0; errors.Is(err, syscall.EWOULDBLOCK) && try < 20; try++ {
		time.Sleep(50 * time.Millisecond)
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
