package badgerstore

import (
	"os"
	"syscall"
)

// allocate gives the first n bytes of f blocks on disk, without changing
// its contents or size, so that writing them later needs no free space.
func allocate(f *os.File, n int64) error {
	return syscall.Fallocate(int(f.Fd()), 0, 0, n)
}
