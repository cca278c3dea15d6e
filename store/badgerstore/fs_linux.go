package badgerstore

import (
	"errors"
	"os"
	"syscall"
)

// errCannotAllocate: the file system cannot allocate blocks ahead of
// writing (fallocate is not supported).
var errCannotAllocate = errors.New("cannot allocate ahead")

// allocate gives the first n bytes of f blocks on disk, without changing
// its contents or size, so that writing them later needs no free space.
func allocate(f *os.File, n int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, n)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return errCannotAllocate
	}
	return err
}
