package badgerstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Badger keeps two kinds of log, in one format: the write-ahead log of each
// memtable (NNNNN.mem), replayed at open, and the value logs (NNNNNN.vlog)
// that hold values over the value threshold. A log is a 20-byte header, then
// entries, each
//
//	meta, userMeta (a byte each), key length, value length, expiry (uvarints), key, value,
//	CRC-32C (Castagnoli) of all the above, 4 bytes big-endian
//
// Badger stops reading a log at the first entry that does not check out and
// drops the rest without a word. After a crash of the process that is right:
// the rest is one half-written entry and then zeros (Badger makes log files
// large and fills them as it goes). Anything else after that point (intact
// entries, or a file that ends inside an entry) is damage, and what Badger
// would drop is data that was saved.

const (
	logHeaderSize = 20      // key id and IV, unused without encryption
	maxKeySize    = 1 << 16 // Badger's bound on a key
	bitValuePtr   = 1 << 1  // the entry's value points into a value log
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logCheck is what reading one log found.
type logCheck struct {
	size   int64 // the file's size
	intact int64 // the end of the last entry that checks out
	// problem says what is wrong after intact; "" when the rest is what a
	// crash leaves.
	problem string
	// torn is true when what follows a bad entry ends within tornWrite of
	// it: the shape of a write a crash cut, in the log being appended to.
	torn bool
	// valueLogs are the value logs that the entries of a write-ahead log
	// point into.
	valueLogs map[uint32]bool
}

// tornWrite is how far past a bad entry the rest of a write cut by a crash
// may reach: Badger appends a batch of commits at once, and kill -9 in the
// middle leaves a torn entry with part of the batch after it.
const tornWrite = 64 << 10

// checkLog reads the log at path entry by entry.
func checkLog(path string) (logCheck, error) {
	f, err := os.Open(path)
	if err != nil {
		return logCheck{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return logCheck{}, err
	}
	c := logCheck{size: st.Size(), intact: min(st.Size(), logHeaderSize), valueLogs: map[uint32]bool{}}
	if c.size <= logHeaderSize {
		return c, nil // created, nothing written yet
	}
	r := bufio.NewReaderSize(io.NewSectionReader(f, logHeaderSize, c.size-logHeaderSize), 1<<20)
	for {
		n, res, err := readEntry(r, c.valueLogs)
		switch {
		case err != nil:
			return c, fmt.Errorf("read %s: %w", path, err)
		case res == entryOK:
			c.intact += n
			continue
		case res == entryEnd:
			return c, nil
		case res == entryCut || c.intact+n > c.size:
			c.problem = fmt.Sprintf("is cut short: it ends inside the entry at byte %d", c.intact)
			return c, nil
		}
		// An entry that does not check out: the torn last one (n bytes, or
		// none if its header is zeros too), or damage.
		at, err := firstNonZero(f, c.intact+max(n, 1), c.size)
		if err != nil {
			return c, fmt.Errorf("read %s: %w", path, err)
		}
		if at >= 0 {
			c.problem = fmt.Sprintf("is damaged at byte %d: the entry there does not check out, yet data follows (at byte %d); Badger would drop everything from there on",
				c.intact, at)
			far, err := firstNonZero(f, c.intact+tornWrite, c.size)
			if err != nil {
				return c, fmt.Errorf("read %s: %w", path, err)
			}
			c.torn = far < 0
		}
		return c, nil
	}
}

type entryResult int

const (
	entryOK  entryResult = iota // n is its length
	entryEnd                    // the file ends between entries
	entryCut                    // the file ends inside the entry
	entryBad                    // it does not check out; n is the length its header claims, 0 if none
)

// readEntry reads one entry.
func readEntry(r *bufio.Reader, valueLogs map[uint32]bool) (n int64, res entryResult, err error) {
	h := &headReader{r: r}
	if _, err := h.ReadByte(); errors.Is(err, io.EOF) {
		return 0, entryEnd, nil
	} else if err != nil {
		return 0, 0, err
	}
	if _, err := h.ReadByte(); err != nil {
		return eofOr(err, entryCut)
	}
	var fields [3]uint64 // key length, value length, expiry
	for i := range fields {
		if fields[i], err = binary.ReadUvarint(h); errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, entryCut, nil
		} else if err != nil {
			return 0, entryBad, nil // not a varint
		}
	}
	klen, vlen := fields[0], fields[1]
	if klen == 0 || klen > maxKeySize || vlen > 1<<31 {
		return 0, entryBad, nil // zeros, or nothing Badger writes
	}
	n = int64(len(h.b)) + int64(klen+vlen) + crc32.Size
	crc := crc32.Update(0, castagnoli, h.b)
	pointer := h.b[0]&bitValuePtr != 0 && vlen == 12 // fid, length, offset
	var kv []byte
	for left := int64(klen + vlen); left > 0; {
		chunk, err := r.Peek(int(min(left, int64(r.Size()))))
		if len(chunk) == 0 {
			return eofOr(err, entryCut)
		}
		crc = crc32.Update(crc, castagnoli, chunk)
		if pointer {
			kv = append(kv, chunk...)
		}
		r.Discard(len(chunk))
		left -= int64(len(chunk))
	}
	var sum [crc32.Size]byte
	if _, err := io.ReadFull(r, sum[:]); err != nil {
		return eofOr(err, entryCut)
	}
	if binary.BigEndian.Uint32(sum[:]) != crc {
		return n, entryBad, nil
	}
	if pointer {
		// Badger stores a value pointer in its in-memory layout.
		valueLogs[binary.NativeEndian.Uint32(kv[klen:])] = true
	}
	return n, entryOK, nil
}

// eofOr maps the end of the file to res, and passes other errors.
func eofOr(err error, res entryResult) (int64, entryResult, error) {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, res, nil
	}
	return 0, 0, err
}

// headReader reads an entry's header, keeping its bytes for the checksum.
type headReader struct {
	r *bufio.Reader
	b []byte
}

func (h *headReader) ReadByte() (byte, error) {
	c, err := h.r.ReadByte()
	if err == nil {
		h.b = append(h.b, c)
	}
	return c, err
}

// firstNonZero returns the offset of the first non-zero byte of f in
// [from, to), or -1.
func firstNonZero(f *os.File, from, to int64) (int64, error) {
	buf, zeros := make([]byte, 1<<20), make([]byte, 1<<20)
	for off := from; off < to; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), to-off)], off)
		if !bytes.Equal(buf[:n], zeros[:n]) {
			for i, b := range buf[:n] {
				if b != 0 {
					return off + int64(i), nil
				}
			}
		}
		if n == 0 || (err != nil && !errors.Is(err, io.EOF)) {
			return -1, err
		}
		off += int64(n)
	}
	return -1, nil
}
