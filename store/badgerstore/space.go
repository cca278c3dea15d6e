package badgerstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/luaivr/luaivr/store"
)

// Room for Badger on a disk that fills up.
//
// Refusing writes below MinFree is enough when the store's own events fill
// the disk. Another process can fill it to the last byte, though, faster
// than any check: then the next page Badger writes faults. Two things keep
// that from killing the process:
//
//   - Badger's logs are written on every event, into large files it creates
//     with holes; the monitor allocates each new one as far as Badger fills
//     it (fallocate), so that writing them needs no space from the disk.
//   - A reserve file in the data folder holds a quarter of MinFree. When the
//     disk is all but full (a sixteenth of MinFree free), something else is
//     filling it, as the store stopped writing at MinFree: the store frees
//     the reserve, so that what Badger still writes (the tables it flushes
//     and compacts) fits, and holds it again once the space is back.
//
// What can still fault: a table Badger creates in the instant between the
// disk reaching its last byte and the next check. Keeping the data folder on
// a file system of its own (or under a quota) closes that too.

const reserveFile = "luaivr-reserve"

// errLowSpace ends the error of a disk short of space: one problem, however
// its free space changes.
var errLowSpace = errors.New("free some space, and luaivr takes events again by itself")

// room is the monitor's state of the data folder's space.
type room struct {
	reserve  int64 // the reserve's size: a quarter of minFree
	released bool  // the reserve was given to Badger and is not yet held again
	// The newest write-ahead log and value log allocated: Badger's ids only
	// grow, so the monitor looks for the next ones by name.
	lastMem, lastVlog uint64
}

// startRoom checks, before the store opens, that the disk has room for
// minFree and the reserve, counting a reserve left by an earlier run.
func (h *health) startRoom() error {
	if h.minFree == 0 {
		return nil
	}
	h.room.reserve = int64(h.minFree / 4)
	free, err := freeSpace(h.dir)
	if errors.Is(err, errFreeUnknown) {
		return nil
	} else if err != nil {
		return err
	}
	if info, err := os.Stat(filepath.Join(h.dir, reserveFile)); err == nil {
		free += uint64(info.Size())
	}
	if need := h.minFree + uint64(h.room.reserve); free < need {
		return fmt.Errorf("the disk of data folder %s has %s free, less than the %s luaivr keeps free (--min-free, and a reserve of %s) so that the database never runs out of space",
			h.dir, store.Bytes(free), store.Bytes(h.minFree), store.Bytes(h.room.reserve))
	}
	return nil
}

// holdRoom, once Badger is open, takes the reserve and allocates the logs
// Badger opened.
func (h *health) holdRoom() {
	switch {
	case h.minFree == 0:
		os.Remove(filepath.Join(h.dir, reserveFile)) // one an earlier run held
	case h.holdReserve() != nil:
		h.room.released = true
	}
	// The logs in use are the newest of each kind.
	entries, _ := os.ReadDir(h.dir)
	for _, e := range entries {
		if id, ok := logID(e.Name(), ".mem"); ok && id > 0 {
			h.room.lastMem = max(h.room.lastMem, id-1)
		}
		if id, ok := logID(e.Name(), ".vlog"); ok && id > 0 {
			h.room.lastVlog = max(h.room.lastVlog, id-1)
		}
	}
	h.allocateLogs()
}

// checkSpace is the monitor's look at the space: it gives up or takes back
// the reserve, and is an error while there is less than minFree free, or
// the reserve is given up.
func (h *health) checkSpace() error {
	if h.minFree == 0 {
		return nil
	}
	free, err := freeSpace(h.dir)
	if errors.Is(err, errFreeUnknown) {
		return nil
	} else if err != nil {
		return fmt.Errorf("free space of data folder %s: %w", h.dir, err)
	}
	if !h.room.released && free < h.minFree/16 {
		h.room.released = true
		if err := os.Remove(filepath.Join(h.dir, reserveFile)); err == nil {
			h.log.Error("the disk is nearly full and something else is filling it: luaivr freed its reserve so that the database can finish what it is writing",
				"dir", h.dir, "free", store.Bytes(free), "reserve", store.Bytes(h.room.reserve))
			free += uint64(h.room.reserve)
		}
	}
	if h.room.released && free >= h.minFree+uint64(h.room.reserve) && h.holdReserve() == nil {
		h.room.released = false
		free -= uint64(h.room.reserve)
	}
	switch {
	case h.room.released:
		return fmt.Errorf("the disk of data folder %s has %s free, less than the %s luaivr keeps free (--min-free) and its reserve of %s, given to the database, so that the database never runs out of space: %w",
			h.dir, store.Bytes(free), store.Bytes(h.minFree), store.Bytes(h.room.reserve), errLowSpace)
	case free < h.minFree:
		return fmt.Errorf("the disk of data folder %s has %s free, less than the %s luaivr keeps free (--min-free) so that the database never runs out of space: %w",
			h.dir, store.Bytes(free), store.Bytes(h.minFree), errLowSpace)
	}
	return nil
}

// holdReserve makes the reserve file exactly the reserve's size, allocated
// (written with zeros where the file system cannot allocate ahead).
func (h *health) holdReserve() error {
	f, err := os.OpenFile(filepath.Join(h.dir, reserveFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(h.room.reserve); err != nil {
		return err
	}
	if err := allocate(f, h.room.reserve); !errors.Is(err, errCannotAllocate) {
		return err
	}
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < h.room.reserve; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), h.room.reserve-off)], off); err != nil {
			return err
		}
	}
	return f.Sync()
}

// allocateLogs allocates the logs Badger created since the last look.
func (h *health) allocateLogs() {
	for allocateFile(filepath.Join(h.dir, fmt.Sprintf("%05d.mem", h.room.lastMem+1)), memtableSize+logSlack) {
		h.room.lastMem++
	}
	for allocateFile(filepath.Join(h.dir, fmt.Sprintf("%06d.vlog", h.room.lastVlog+1)), valueLogSize+logSlack) {
		h.room.lastVlog++
	}
}

// inUse are the logs Badger writes to: the newest of each kind, which it
// never deletes while it runs.
func (r *room) inUse() []string {
	var names []string
	if r.lastMem > 0 {
		names = append(names, fmt.Sprintf("%05d.mem", r.lastMem))
	}
	if r.lastVlog > 0 {
		names = append(names, fmt.Sprintf("%06d.vlog", r.lastVlog))
	}
	return names
}

// logSlack is how far past its size limit Badger writes a log before
// starting the next: the rest of the write in progress.
const logSlack = 2 << 20

// allocateFile allocates up to n bytes of a file, and reports whether it
// exists.
func allocateFile(path string, n int64) bool {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	} else if err != nil {
		// Not ours to fix (out of file descriptors, say): if it exists,
		// look for the next one. Stat needs no descriptor.
		_, err := os.Stat(path)
		return err == nil
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil {
		allocate(f, min(n, info.Size()))
	}
	return true
}

// logID is the id of a log named NNNNN.mem or NNNNNN.vlog.
func logID(name, ext string) (uint64, bool) {
	id, err := strconv.ParseUint(strings.TrimSuffix(name, ext), 10, 64)
	return id, err == nil && strings.HasSuffix(name, ext)
}
