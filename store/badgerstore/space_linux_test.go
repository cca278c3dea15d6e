package badgerstore

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The logs Badger writes on every event are allocated ahead, so that
// writing them needs no free space when another process fills the disk;
// and the reserve is held.
func TestLogsAllocatedAhead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openT(t, Options{Dir: dir, GCInterval: -1})
	allocated := func(name string) int64 {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return info.Sys().(*syscall.Stat_t).Blocks * 512
	}
	waitFor(t, "the logs to be allocated", func() bool {
		return allocated("00001.mem") >= memtableSize && allocated("000001.vlog") >= valueLogSize
	})
	if got := allocated(reserveFile); got < DefaultMinFree/4 {
		t.Errorf("the reserve holds %d bytes, want %d", got, DefaultMinFree/4)
	}
}
