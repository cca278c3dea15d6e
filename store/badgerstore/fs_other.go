//go:build !(linux || darwin || freebsd)

package badgerstore

import "errors"

// errFreeUnknown: this system cannot tell a folder's free space, so the
// free-space check is off.
var errFreeUnknown = errors.New("free space unknown")

func freeSpace(string) (uint64, error) { return 0, errFreeUnknown }

var errLocked = errors.New("data folder locked")

// lockFolder does nothing here: Badger's own lock still keeps a second
// process out once it opens the folder.
func lockFolder(string) (func(), error) { return func() {}, nil }
