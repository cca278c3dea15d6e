//go:build linux || darwin || freebsd

package badgerstore

import (
	"errors"
	"os"
	"syscall"
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
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return func() { f.Close() }, nil
}
