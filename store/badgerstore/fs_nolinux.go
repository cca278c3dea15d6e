//go:build !linux

package badgerstore

import (
	"errors"
	"os"
)

// errCannotAllocate: this system cannot allocate blocks ahead of writing, so
// the free-space margin and a reserve written with zeros are the protection.
var errCannotAllocate = errors.New("cannot allocate ahead")

func allocate(*os.File, int64) error { return errCannotAllocate }
