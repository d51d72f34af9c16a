// Package spool is the agent's on-disk outbox: an append-only queue of
// records in segment files, read in order and removed only when the reader
// acknowledges them.
//
// Guarantees:
//
//   - Framing: each record is a 4-byte little-endian length, a 4-byte
//     CRC-32C of the payload, then the payload. A record is either wholly
//     there or not at all: Open truncates a torn tail (a crash mid-write) of
//     the last segment, and an append that fails (ENOSPC, EIO) is cut off
//     again before Append returns. Records already in the spool are never
//     rewritten, so a failed or dropped append cannot damage them.
//   - Order and acknowledgement: Read returns records oldest first from a
//     read cursor; Ack(n) acknowledges the n oldest records read and not yet
//     acknowledged; Rewind moves the cursor back to the oldest unacknowledged
//     record (after a lost connection). Acknowledged records are never
//     returned again in this process; fully acknowledged segments are
//     deleted. After a restart every record not acknowledged is returned
//     again (at-least-once delivery): the acknowledged position is written
//     in place to the "ack" file (two CRC-checked slots, so a torn write
//     falls back to the older slot, which only redelivers).
//   - Size cap: when an append would make the segment files exceed
//     MaxBytes, or the file system is full, the record is dropped, counted
//     (Dropped) and ErrFull is returned; nothing already spooled is touched,
//     and appends succeed again once space returns.
//   - Durability (fsync policy): Append writes the record to the file
//     before it returns, so a crash of the process (kill -9) loses nothing
//     appended. The file is fsynced, for power loss, according to
//     SyncInterval: 0 fsyncs on every Append (slow); a positive interval
//     fsyncs on the first Append after the interval has passed since the last
//     fsync, and on Sync and Close (the agent link calls Sync every second),
//     so a power loss loses at most about that interval of records. The ack
//     file is fsynced on the same schedule; losing an ack only redelivers.
//   - Corruption: a bad record in a segment other than the last (bit rot)
//     cannot be resynchronised; the rest of that segment is skipped and
//     counted (Corrupt), and reading goes on with the next segment.
//
// A Spool is safe for concurrent use; one process may open a directory at
// a time (Open takes an flock on it).
package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors callers branch on.
var (
	// ErrFull: the record was dropped because the spool is at its size cap
	// or the file system is out of space. It is counted in Dropped.
	ErrFull = errors.New("spool full")
	// ErrTooLarge: the record is larger than MaxRecord; it is dropped and
	// counted.
	ErrTooLarge = errors.New("record too large")
	// ErrClosed: the spool was closed.
	ErrClosed = errors.New("spool closed")
)

const (
	headerSize = 8
	// MaxRecord is the largest record payload.
	MaxRecord = 16 << 20
	segSuffix = ".seg"
	ackFile   = "ack"
	lockFile  = "lock"
	ackSlot   = 32 // gen u64, seg u64, off i64, reserved u32, crc u32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Options configure a spool. Zero values take the defaults.
type Options struct {
	// MaxBytes caps the total size of the segment files (default 256 MiB).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment starts (default
	// 8 MiB, at least 4 KiB). Space is freed a segment at a time.
	SegmentBytes int64
	// SyncInterval is the fsync policy; see the package comment. Zero
	// means DefaultSyncInterval; negative means only on Sync and Close.
	SyncInterval time.Duration
	// SyncEveryAppend fsyncs on every Append, whatever SyncInterval says.
	SyncEveryAppend bool
}

// Defaults.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultSegmentBytes = 8 << 20
	DefaultSyncInterval = time.Second
)

// Pos is a position in the spool: a segment number and a byte offset.
type Pos struct {
	Seg uint64
	Off int64
}

func (p Pos) less(q Pos) bool { return p.Seg < q.Seg || p.Seg == q.Seg && p.Off < q.Off }

// Stats are the spool's counters.
type Stats struct {
	Pending  int64  // records appended and not acknowledged
	Unread   int64  // pending records not yet returned by Read
	Bytes    int64  // size of the segment files
	Dropped  uint64 // records dropped since Open (full, too large, write errors)
	Corrupt  uint64 // bad records skipped since Open
	Segments int
}

// Spool is an on-disk queue. See the package comment.
type Spool struct {
	dir  string
	opts Options

	mu       sync.Mutex
	lock     *os.File
	closed   bool
	segs     []uint64         // existing segments, ascending
	sizes    map[uint64]int64 // good size of each segment
	total    int64
	active   *os.File // last segment, for writing
	end      int64    // good end of the active segment
	badTail  bool     // the active file may hold junk past end
	head     Pos      // oldest unacknowledged record
	cursor   Pos      // next record Read returns
	inflight []Pos    // end positions of records read, not acknowledged
	pending  int64
	unread   int64
	dropped  uint64
	corrupt  uint64
	ack      *os.File
	ackGen   uint64
	ackErr   error // the last ack-file write failed
	lastSync time.Time
	dirty    bool // data written since the last fsync
	rfile    *os.File
	rseg     uint64
	rbuf     []byte // read-ahead of segment rbufSeg from rbufOff
	rbufSeg  uint64
	rbufOff  int64
	notify   chan struct{}
}

// Open opens the spool in dir, creating it (mode 0700) if needed, and
// recovers from a crash: it removes fully acknowledged segments, truncates
// a torn tail and counts the records not yet acknowledged.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	opts.SegmentBytes = max(opts.SegmentBytes, 4096)
	if opts.SyncInterval == 0 {
		opts.SyncInterval = DefaultSyncInterval
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{dir: dir, opts: opts, sizes: map[uint64]int64{}, notify: make(chan struct{}), lastSync: time.Now()}
	if err := s.open(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	return s, nil
}

func (s *Spool) open() error {
	lf, err := os.OpenFile(filepath.Join(s.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	s.lock = lf
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("locked by another process: %w", err)
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) || !e.Type().IsRegular() {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil || n == 0 {
			continue
		}
		s.segs = append(s.segs, n)
	}
	slices.Sort(s.segs)

	s.ack, err = os.OpenFile(filepath.Join(s.dir, ackFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	s.head = s.readAck()

	// Segments wholly before the head were acknowledged before a crash.
	for len(s.segs) > 0 && s.segs[0] < s.head.Seg {
		if err := os.Remove(s.segPath(s.segs[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		s.segs = s.segs[1:]
	}
	if len(s.segs) == 0 || s.head.Seg < s.segs[0] {
		first := uint64(1)
		if len(s.segs) > 0 {
			first = s.segs[0]
		}
		s.head = Pos{Seg: first}
	}
	for i, n := range s.segs {
		fi, err := os.Stat(s.segPath(n))
		if err != nil {
			return err
		}
		size := fi.Size()
		if i == len(s.segs)-1 {
			// The last segment may end in a torn write: keep only whole,
			// valid records.
			good, err := s.validEnd(n)
			if err != nil {
				return err
			}
			if good != size {
				if err := os.Truncate(s.segPath(n), good); err != nil {
					return err
				}
				size = good
			}
		}
		s.sizes[n] = size
		s.total += size
	}
	if len(s.segs) == 0 {
		if err := s.createSegment(s.head.Seg); err != nil {
			return err
		}
	} else {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(s.segPath(last), os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		s.active, s.end = f, s.sizes[last]
	}
	if s.head.Off > s.sizes[s.head.Seg] {
		s.head.Off = s.sizes[s.head.Seg]
	}
	s.cursor = s.head
	// Count what is left to deliver.
	p := s.head
	for {
		_, next, ok := s.scan(p, false)
		if !ok {
			break
		}
		s.pending++
		p = next
	}
	s.unread = s.pending
	return nil
}

func (s *Spool) segPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", n, segSuffix))
}

func (s *Spool) createSegment(n uint64) error {
	f, err := os.OpenFile(s.segPath(n), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if s.active != nil {
		s.active.Sync()
		s.active.Close()
	}
	s.active, s.end, s.badTail = f, 0, false
	s.segs = append(s.segs, n)
	s.sizes[n] = 0
	if d, err := os.Open(s.dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// validEnd returns the offset after the last whole, valid record of
// segment n, reading from its start.
func (s *Spool) validEnd(n uint64) (int64, error) {
	f, err := os.Open(s.segPath(n))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var off int64
	var hdr [headerSize]byte
	buf := []byte(nil)
	for {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			return off, nil
		}
		l, sum := binary.LittleEndian.Uint32(hdr[:4]), binary.LittleEndian.Uint32(hdr[4:])
		if l > MaxRecord || off+headerSize+int64(l) > fi.Size() {
			return off, nil
		}
		buf = slices.Grow(buf[:0], int(l))[:l]
		if _, err := f.ReadAt(buf, off+headerSize); err != nil {
			return off, nil
		}
		if crc32.Checksum(buf, castagnoli) != sum {
			return off, nil
		}
		off += headerSize + int64(l)
	}
}

// scan reads the record at p (moving to later segments at a segment's
// end) and returns it (when withData), the position after it and whether
// there was one. A bad record skips the rest of its segment (counted when
// withData).
func (s *Spool) scan(p Pos, withData bool) ([]byte, Pos, bool) {
	for {
		idx, found := slices.BinarySearch(s.segs, p.Seg)
		if !found {
			if idx >= len(s.segs) {
				return nil, p, false
			}
			p = Pos{Seg: s.segs[idx]}
			continue
		}
		size := s.sizes[p.Seg]
		if p.Off+headerSize > size {
			if idx+1 >= len(s.segs) {
				return nil, p, false
			}
			p = Pos{Seg: s.segs[idx+1]}
			continue
		}
		hdr, err := s.readAt(p.Seg, p.Off, headerSize, size)
		if err != nil {
			return s.skip(p, idx, withData)
		}
		l, sum := binary.LittleEndian.Uint32(hdr[:4]), binary.LittleEndian.Uint32(hdr[4:])
		next := Pos{Seg: p.Seg, Off: p.Off + headerSize + int64(l)}
		if l > MaxRecord || next.Off > size {
			return s.skip(p, idx, withData)
		}
		if !withData {
			return nil, next, true
		}
		b, err := s.readAt(p.Seg, p.Off+headerSize, int(l), size)
		if err != nil || crc32.Checksum(b, castagnoli) != sum {
			return s.skip(p, idx, withData)
		}
		return bytes.Clone(b), next, true
	}
}

// skip gives up on the rest of segment idx from p.
func (s *Spool) skip(p Pos, idx int, count bool) ([]byte, Pos, bool) {
	s.rbufSeg = 0 // the active segment may be cut and rewritten
	if count {
		s.corrupt++
	}
	if idx+1 >= len(s.segs) {
		// The active segment: nothing after p can be trusted; new
		// appends go to a new segment.
		s.total -= s.sizes[p.Seg] - p.Off
		s.sizes[p.Seg] = p.Off
		s.end = min(s.end, p.Off)
		s.badTail = true
		return nil, p, false
	}
	return s.scan(Pos{Seg: s.segs[idx+1]}, count)
}

// readAheadBytes is how much scan reads at a time.
const readAheadBytes = 256 << 10

// readAt returns n bytes of segment seg at off (size is the segment's good
// size), from a read-ahead buffer. The result is valid until the next call.
func (s *Spool) readAt(seg uint64, off int64, n int, size int64) ([]byte, error) {
	if s.rbufSeg == seg && off >= s.rbufOff && off+int64(n) <= s.rbufOff+int64(len(s.rbuf)) {
		i := off - s.rbufOff
		return s.rbuf[i : i+int64(n)], nil
	}
	f, err := s.reader(seg)
	if err != nil {
		return nil, err
	}
	want := min(max(int64(n), readAheadBytes), size-off)
	if want < int64(n) {
		return nil, io.ErrUnexpectedEOF
	}
	if int64(cap(s.rbuf)) < want {
		s.rbuf = make([]byte, want)
	}
	s.rbuf = s.rbuf[:want]
	s.rbufSeg, s.rbufOff = 0, 0 // invalid until filled
	if _, err := f.ReadAt(s.rbuf, off); err != nil {
		s.rbuf = s.rbuf[:0]
		return nil, err
	}
	s.rbufSeg, s.rbufOff = seg, off
	return s.rbuf[:n], nil
}

func (s *Spool) reader(n uint64) (*os.File, error) {
	if s.rfile != nil && s.rseg == n {
		return s.rfile, nil
	}
	if s.rfile != nil {
		s.rfile.Close()
		s.rfile = nil
	}
	f, err := os.Open(s.segPath(n))
	if err != nil {
		return nil, err
	}
	s.rfile, s.rseg = f, n
	return f, nil
}

func (s *Spool) readAck() Pos {
	buf := make([]byte, 2*ackSlot)
	n, _ := io.ReadFull(io.NewSectionReader(s.ack, 0, 2*ackSlot), buf)
	var best Pos
	var bestGen uint64
	found := false
	for i := 0; i+ackSlot <= n; i += ackSlot {
		sl := buf[i : i+ackSlot]
		if crc32.Checksum(sl[:ackSlot-4], castagnoli) != binary.LittleEndian.Uint32(sl[ackSlot-4:]) {
			continue
		}
		gen := binary.LittleEndian.Uint64(sl[0:])
		p := Pos{Seg: binary.LittleEndian.Uint64(sl[8:]), Off: int64(binary.LittleEndian.Uint64(sl[16:]))}
		if p.Off < 0 {
			continue
		}
		if !found || gen > bestGen {
			best, bestGen, found = p, gen, true
		}
	}
	s.ackGen = bestGen
	return best
}

func (s *Spool) writeAck(p Pos) error {
	s.ackGen++
	var sl [ackSlot]byte
	binary.LittleEndian.PutUint64(sl[0:], s.ackGen)
	binary.LittleEndian.PutUint64(sl[8:], p.Seg)
	binary.LittleEndian.PutUint64(sl[16:], uint64(p.Off))
	binary.LittleEndian.PutUint32(sl[ackSlot-4:], crc32.Checksum(sl[:ackSlot-4], castagnoli))
	_, err := s.ack.WriteAt(sl[:], int64(s.ackGen%2)*ackSlot)
	s.dirty = true
	return err
}

// Append adds a record. It never blocks on the reader. When the spool is
// full it returns an error wrapping ErrFull and counts the drop.
func (s *Spool) Append(data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(data) > MaxRecord {
		s.dropped++
		return fmt.Errorf("spool append: %d bytes: %w", len(data), ErrTooLarge)
	}
	need := int64(headerSize + len(data))
	if s.total+need > s.opts.MaxBytes {
		s.dropped++
		return fmt.Errorf("spool append: %w (cap %d bytes)", ErrFull, s.opts.MaxBytes)
	}
	if s.badTail {
		s.rbufSeg = 0
		if err := s.active.Truncate(s.end); err == nil {
			s.badTail = false
		}
	}
	if s.badTail || s.end > 0 && s.end+need > s.opts.SegmentBytes {
		if err := s.createSegment(s.segs[len(s.segs)-1] + 1); err != nil {
			s.dropped++
			return fmt.Errorf("spool append: new segment: %w", s.dropErr(err))
		}
	}
	buf := make([]byte, need)
	putHeader(buf, data)
	copy(buf[headerSize:], data)
	if _, err := s.active.WriteAt(buf, s.end); err != nil {
		s.dropped++
		if terr := s.active.Truncate(s.end); terr != nil {
			s.badTail = true
		}
		return fmt.Errorf("spool append: %w", s.dropErr(err))
	}
	s.end += need
	s.total += need
	s.sizes[s.segs[len(s.segs)-1]] = s.end
	s.pending++
	s.unread++
	s.dirty = true
	if s.opts.SyncEveryAppend || s.opts.SyncInterval > 0 && time.Since(s.lastSync) >= s.opts.SyncInterval {
		s.syncLocked()
	}
	close(s.notify)
	s.notify = make(chan struct{})
	return nil
}

// putHeader writes data's record header into h.
func putHeader(h, data []byte) {
	binary.LittleEndian.PutUint32(h[0:], uint32(len(data)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(data, castagnoli))
}

// dropErr marks an out-of-space error as ErrFull.
func (s *Spool) dropErr(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}

// Read returns up to max records (and about maxBytes of payload, at least
// one record) after the read cursor and advances it. It returns no records
// when there are none; wait on Notify for more.
func (s *Spool) Read(max int, maxBytes int) ([][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var out [][]byte
	size := 0
	for len(out) < max && (len(out) == 0 || size < maxBytes) {
		data, next, ok := s.scan(s.cursor, true)
		if !ok {
			// Everything after the cursor was read or skipped as
			// corrupt: correct the counts for skipped records.
			s.unread = 0
			s.pending = int64(len(s.inflight))
			break
		}
		out = append(out, data)
		size += len(data)
		s.cursor = next
		s.inflight = append(s.inflight, next)
		s.unread--
	}
	return out, nil
}

// Ack acknowledges the n oldest records returned by Read and not yet
// acknowledged, and deletes segments that hold nothing else. It fails only
// when the spool is closed or fewer than n records await acknowledgement.
func (s *Spool) Ack(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if n <= 0 {
		return nil
	}
	if n > len(s.inflight) {
		return fmt.Errorf("spool ack: %d records, only %d read", n, len(s.inflight))
	}
	s.head = s.inflight[n-1]
	s.inflight = slices.Delete(s.inflight, 0, n)
	s.pending -= int64(n)
	// Delete segments before the head, never the active one.
	for len(s.segs) > 1 && s.segs[0] < s.head.Seg {
		old := s.segs[0]
		if s.rfile != nil && s.rseg == old {
			s.rfile.Close()
			s.rfile = nil
		}
		if err := os.Remove(s.segPath(old)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("spool ack: %w", err)
		}
		s.total -= s.sizes[old]
		delete(s.sizes, old)
		s.segs = s.segs[1:]
	}
	// A failed write of the ack file (a full disk) only means records
	// may be delivered again after a restart: it is retried at the next
	// Ack and reported by Sync, not here.
	if err := s.writeAck(s.head); err != nil {
		s.ackErr = err
	} else {
		s.ackErr = nil
	}
	return nil
}

// Rewind moves the read cursor back to the oldest unacknowledged record:
// records read but not acknowledged are returned again.
func (s *Spool) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursor = s.head
	s.unread += int64(len(s.inflight))
	s.inflight = s.inflight[:0]
}

// Notify returns a channel closed at the next successful Append.
func (s *Spool) Notify() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notify
}

// Stats returns the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Pending: s.pending, Unread: s.unread, Bytes: s.total, Dropped: s.dropped, Corrupt: s.corrupt, Segments: len(s.segs)}
}

// Sync fsyncs the active segment and the ack file.
func (s *Spool) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.syncLocked()
}

func (s *Spool) syncLocked() error {
	s.lastSync = time.Now()
	if !s.dirty {
		return nil
	}
	s.dirty = false
	err := s.active.Sync()
	if e := s.ack.Sync(); err == nil {
		err = e
	}
	if err == nil && s.ackErr != nil {
		err = fmt.Errorf("ack not saved: %w", s.ackErr)
	}
	if err != nil {
		return fmt.Errorf("spool sync: %w", err)
	}
	return nil
}

// Close syncs and closes the spool.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	err := s.syncLocked()
	s.closed = true
	s.closeFiles()
	return err
}

func (s *Spool) closeFiles() {
	for _, f := range []*os.File{s.active, s.ack, s.rfile, s.lock} {
		if f != nil {
			f.Close()
		}
	}
}
