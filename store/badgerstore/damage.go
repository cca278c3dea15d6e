package badgerstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
	"github.com/luaivr/luaivr/store"
	"google.golang.org/protobuf/proto"
)

// Before Badger opens a data folder, the store looks for damage that Badger
// would not report: given a folder without its MANIFEST, Badger starts empty
// and deletes the tables; given a MANIFEST cut short, it deletes the tables
// the MANIFEST no longer lists; it drops whatever follows a damaged entry of
// a log; and a truncated table panics in one of its goroutines, which kills
// the process with a stack trace. Any of these found, Open refuses the folder
// with an error naming each file, so that nothing more is lost, unless
// Options.Repair: then it drops what cannot be read, keeps it in a
// damaged-<time> folder inside the data folder, and logs each file.

const manifestFile = "MANIFEST"

// A Damage is one problem of a data folder.
type Damage struct {
	File    string // the file's name in the data folder
	Problem string // what is wrong with it
	Drops   string // what Repair drops
	// What Repair does: files it moves aside, the tail of a log it cuts
	// off, tables it takes out of the MANIFEST.
	moveAside []string
	cutAt     int64
	unlist    []uint64
}

// DamageError is Open's error for a damaged data folder.
type DamageError struct {
	Dir     string
	Damages []Damage
}

func (e *DamageError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data folder %s is damaged:", e.Dir)
	for _, d := range e.Damages {
		fmt.Fprintf(&b, "\n  %s: %s", d.File, d.Problem)
	}
	fmt.Fprintf(&b, "\nluaivr does not start on it, so that nothing more is lost: restore the folder from a backup, "+
		"or start luaivr serve with --repair to open what can be read (it keeps what it drops in %s and logs each file)", filepath.Join(e.Dir, "damaged-<time>"))
	return b.String()
}

// folderFiles are a data folder's Badger files, by kind.
type folderFiles struct {
	tables   map[uint64]fs.FileInfo
	logs     []string // write-ahead logs (*.mem) and value logs (*.vlog), in id order per kind
	manifest bool
}

func listFolder(dir string) (folderFiles, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return folderFiles{}, err
	}
	ff := folderFiles{tables: map[uint64]fs.FileInfo{}}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case name == manifestFile:
			ff.manifest = true
		case strings.HasSuffix(name, ".sst"):
			id, ok := table.ParseFileID(name)
			info, err := e.Info()
			if ok && err == nil {
				ff.tables[id] = info
			}
		case strings.HasSuffix(name, ".mem"), strings.HasSuffix(name, ".vlog"):
			ff.logs = append(ff.logs, name) // ReadDir sorts by name: ids are zero-padded
		}
	}
	return ff, nil
}

// newestLog reports whether name is the newest log of its kind (.mem or
// .vlog): the one Badger was appending to. A torn write at its end (kill -9
// mid-write leaves a bad entry with part of its batch after it) is what a
// crash leaves, never an acknowledged commit: Badger drops it when it opens
// the log, as it must. Elsewhere, or reaching further, it is damage.
func newestLog(logs []string, name string) bool {
	ext := filepath.Ext(name)
	for _, other := range logs {
		if filepath.Ext(other) == ext && other > name {
			return false
		}
	}
	return true
}

// inspect finds the damage of the data folder dir. verified are the tables
// that passed, for the next start.
func inspect(dir string) (damages []Damage, verified map[string]stamp, err error) {
	ff, err := listFolder(dir)
	if err != nil {
		return nil, nil, err
	}
	logs := map[string]logCheck{}
	var memBytes int64 // what the write-ahead logs hold
	referenced := map[uint32]bool{}
	for _, name := range ff.logs {
		c, err := checkLog(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		logs[name] = c
		if strings.HasSuffix(name, ".mem") {
			memBytes += c.intact
			for fid := range c.valueLogs {
				referenced[fid] = true
			}
		}
		if c.problem != "" && !(c.torn && newestLog(ff.logs, name)) {
			damages = append(damages, Damage{File: name, Problem: c.problem, cutAt: c.intact,
				Drops: fmt.Sprintf("everything from byte %d on (kept aside): what was saved there", c.intact)})
		}
	}

	if d, ok := checkKeyRegistry(dir); !ok {
		damages = append(damages, d)
	}

	var listed map[uint64]badger.TableManifest
	if ff.manifest {
		m, problem, err := readManifest(dir)
		if err != nil {
			return nil, nil, err
		}
		if problem != "" {
			return append(damages, lostManifest(ff, logs, referenced, "is damaged ("+problem+")")), nil, nil
		}
		listed = m.Tables
	} else {
		if len(ff.tables) > 0 || len(unreferenced(ff, logs, referenced)) > 0 {
			damages = append(damages, lostManifest(ff, logs, referenced, "is missing"))
		}
		return damages, nil, nil
	}

	var listedBytes, orphanBytes int64
	var orphans, missing []uint64
	for id := range listed {
		if info, ok := ff.tables[id]; ok {
			listedBytes += info.Size()
		} else {
			missing = append(missing, id)
		}
	}
	for id, info := range ff.tables {
		if _, ok := listed[id]; !ok {
			orphans = append(orphans, id)
			orphanBytes += info.Size()
		}
	}
	slices.Sort(missing)
	slices.Sort(orphans)
	for _, id := range missing {
		damages = append(damages, Damage{File: table.IDToFilename(id), Problem: "is listed in the MANIFEST but missing",
			Drops: "the sessions, transcripts and replies it held", unlist: []uint64{id}})
	}
	// After a crash, tables a flush or compaction wrote but the MANIFEST
	// does not list yet are normal, and Badger deletes them: their data is
	// still in the tables they were compacted from, or in a write-ahead log.
	// Tables beyond that mean the MANIFEST lost its record of them.
	if orphanBytes > listedBytes+listedBytes/10+memBytes+64<<10 {
		var names []string
		for _, id := range orphans {
			names = append(names, table.IDToFilename(id))
		}
		damages = append(damages, Damage{File: manifestFile,
			Problem: fmt.Sprintf("does not list %d table files (%s) that it must have listed (%s): it was probably cut short, and Badger would delete them",
				len(orphans), store.Bytes(orphanBytes), clip(names)),
			Drops: "those tables (moved aside): the sessions, transcripts and replies they held", moveAside: names})
	}
	// Check the tables Badger will open, but for those an earlier start
	// verified: a table is never written again, so one whose size and
	// modification time are unchanged is as it was.
	checked := readChecked(dir)
	verified = map[string]stamp{}
	var ids []uint64
	for id := range listed {
		info, ok := ff.tables[id]
		if !ok {
			continue
		}
		name, st := info.Name(), stamp{info.Size(), info.ModTime().UnixNano()}
		verified[name] = st
		if checked[name] != st {
			ids = append(ids, id)
		}
	}
	bad := checkTables(dir, ids, listed)
	for _, d := range bad {
		delete(verified, d.File)
	}
	return append(damages, bad...), verified, nil
}

// checkedFile lists the tables verified at earlier starts.
const checkedFile = "luaivr-checked.json"

// stamp is a table file's size and modification time.
type stamp struct{ Size, Modified int64 }

func readChecked(dir string) map[string]stamp {
	var m map[string]stamp
	if b, err := os.ReadFile(filepath.Join(dir, checkedFile)); err == nil {
		_ = json.Unmarshal(b, &m) // unreadable: every table is checked again
	}
	return m
}

func writeChecked(dir string, m map[string]stamp) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, checkedFile+".new")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, checkedFile))
}

// lostManifest is the damage of a folder whose MANIFEST is missing or
// unreadable: its tables cannot be placed, and the value logs no
// write-ahead log points into hold values nothing refers to any more.
func lostManifest(ff folderFiles, logs map[string]logCheck, referenced map[uint32]bool, problem string) Damage {
	var aside []string
	var tableBytes int64
	for id, info := range ff.tables {
		aside = append(aside, table.IDToFilename(id))
		tableBytes += info.Size()
	}
	slices.Sort(aside)
	if ff.manifest {
		aside = append(aside, manifestFile)
	}
	var vlogBytes int64
	for _, name := range unreferenced(ff, logs, referenced) {
		aside = append(aside, name)
		vlogBytes += logs[name].intact
	}
	return Damage{File: manifestFile,
		Problem: fmt.Sprintf("%s, yet the folder holds %d table files (%s) and %s of value logs that only it can place: without it Badger would start nearly empty and delete the tables",
			problem, len(ff.tables), store.Bytes(tableBytes), store.Bytes(vlogBytes)),
		Drops:     "the tables and value logs (moved aside): every session, transcript and reply not in a write-ahead log",
		moveAside: aside}
}

// unreferenced are the value logs that hold values and that no write-ahead
// log points into: without a MANIFEST, nothing refers to their values.
func unreferenced(ff folderFiles, logs map[string]logCheck, referenced map[uint32]bool) []string {
	var names []string
	for _, name := range ff.logs {
		fid, err := strconv.ParseUint(strings.TrimSuffix(name, ".vlog"), 10, 32)
		if err == nil && strings.HasSuffix(name, ".vlog") && logs[name].intact > logHeaderSize && !referenced[uint32(fid)] {
			names = append(names, name)
		}
	}
	return names
}

// keyRegistryFile is where Badger keeps its encryption keys: without
// encryption, a 16-byte IV and a fixed sanity text, checked at open.
const keyRegistryFile = "KEYREGISTRY"

func checkKeyRegistry(dir string) (Damage, bool) {
	b, err := os.ReadFile(filepath.Join(dir, keyRegistryFile))
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(b) >= 28 && string(b[16:28]) == "Hello Badger" {
		return Damage{}, true // missing: Badger makes a new one
	}
	return Damage{File: keyRegistryFile, Problem: "is damaged (it does not hold Badger's sanity text)",
		Drops: "nothing: luaivr does not encrypt, so it holds no keys; Badger writes a new one", moveAside: []string{keyRegistryFile}}, false
}

// readManifest reads the MANIFEST as Badger will. problem is what is wrong
// with it; a torn last change (a crash while Badger appended it) is not.
func readManifest(dir string) (m badger.Manifest, problem string, err error) {
	f, err := os.Open(filepath.Join(dir, manifestFile))
	if err != nil {
		return m, "", err
	}
	defer f.Close()
	m, _, err = badger.ReplayManifestFile(f, 0, badger.DefaultOptions("").WithLogger(nil))
	if err != nil {
		return m, err.Error(), nil
	}
	return m, "", nil
}

// checkTables opens each table as Badger will and verifies its checksums,
// two at a time; Badger's own check of a damaged table panics.
func checkTables(dir string, ids []uint64, listed map[uint64]badger.TableManifest) []Damage {
	slices.Sort(ids)
	var mu sync.Mutex
	var damages []Damage
	var wg sync.WaitGroup
	next := make(chan uint64)
	for range 2 {
		wg.Go(func() {
			for id := range next {
				if err := checkTable(filepath.Join(dir, table.IDToFilename(id)), listed[id].Compression); err != nil {
					mu.Lock()
					damages = append(damages, Damage{File: table.IDToFilename(id), Problem: "is damaged: " + err.Error(),
						Drops:     "the sessions, transcripts and replies it held (moved aside)",
						moveAside: []string{table.IDToFilename(id)}, unlist: []uint64{id}})
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	slices.SortFunc(damages, func(a, b Damage) int { return strings.Compare(a.File, b.File) })
	return damages
}

func checkTable(path string, compression options.CompressionType) (err error) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprint(p)
			if strings.Contains(msg, "initIndex") {
				err = errors.New("its index cannot be read: the file was probably cut short")
			} else {
				err = fmt.Errorf("it cannot be read (%s)", firstLine(msg))
			}
		}
	}()
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.Size() == 0 {
		return errors.New("it is empty")
	}
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	t, err := table.OpenTable(mf, table.Options{ChkMode: options.OnTableRead, Compression: compression, BlockSize: tableBlockSize})
	if err != nil {
		mf.Close(-1)
		return err
	}
	return t.MmapFile.Close(-1)
}

// repair does what each damage needs, keeping what it drops in a
// damaged-<time> folder, and logs it.
func repair(dir string, damages []Damage, log *slog.Logger) error {
	aside := filepath.Join(dir, "damaged-"+time.Now().UTC().Format("20060102-150405"))
	if err := os.MkdirAll(aside, 0o700); err != nil {
		return fmt.Errorf("repair: %w", err)
	}
	var unlist []uint64
	for _, d := range damages {
		for _, name := range d.moveAside {
			if err := os.Rename(filepath.Join(dir, name), filepath.Join(aside, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("repair: %w", err)
			}
		}
		if d.cutAt > 0 {
			if err := cutLog(filepath.Join(dir, d.File), d.cutAt, filepath.Join(aside, fmt.Sprintf("%s.from-%d", d.File, d.cutAt))); err != nil {
				return fmt.Errorf("repair: %w", err)
			}
		}
		unlist = append(unlist, d.unlist...)
		log.Error("repair: dropped what could not be read", "file", d.File, "problem", d.Problem, "dropped", d.Drops, "kept_in", aside)
	}
	if len(unlist) > 0 {
		if err := unlistTables(dir, unlist); err != nil {
			return fmt.Errorf("repair: %w", err)
		}
	}
	return nil
}

// cutLog keeps a log's bytes from at on in keep, then cuts them off.
func cutLog(path string, at int64, keep string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.Create(keep)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, io.NewSectionReader(f, at, 1<<62)); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := f.Truncate(at); err != nil {
		return err
	}
	return f.Sync()
}

// unlistTables appends to the MANIFEST a change that deletes these tables,
// in Badger's format: length and CRC-32C, big-endian, then the change set.
func unlistTables(dir string, ids []uint64) error {
	path := filepath.Join(dir, manifestFile)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	// Cut a torn last change first, as Badger would: it stops reading there.
	if _, end, err := badger.ReplayManifestFile(f, 0, badger.DefaultOptions("").WithLogger(nil)); err != nil {
		return err
	} else if err := f.Truncate(end); err != nil {
		return err
	}
	set := &pb.ManifestChangeSet{}
	for _, id := range ids {
		set.Changes = append(set.Changes, &pb.ManifestChange{Id: id, Op: pb.ManifestChange_DELETE})
	}
	body, err := proto.Marshal(set)
	if err != nil {
		return err
	}
	rec := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
	rec = binary.BigEndian.AppendUint32(rec, crc32.Checksum(body, castagnoli))
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return err
	}
	if _, err := f.Write(append(rec, body...)); err != nil {
		return err
	}
	return f.Sync()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// clip names a few of many files.
func clip(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
}
