package authlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Tailer follows a log file by path and hands out complete lines in
// batches. It polls (every TailerOptions.Poll, 200 ms by default) rather
// than using inotify: polling also sees renames and truncations done while
// the directory was replaced, works on every file system, and costs one
// stat per interval.
//
// Delivery is at least once: the consumer handles a batch and then calls
// Commit with the batch's Pos, which is written to the state file
// atomically. After a crash the tailer resumes at the last committed
// position, so at most the uncommitted batches are read again.
//
// It handles rotation by rename (the old file is read to its end, then the
// new file from 0; a rotation during downtime is found by looking for the
// old inode next to the path, e.g. auth.log.1), truncation and
// copytruncate (size below the offset, or changed first bytes: start from
// 0), a file replaced while the agent was down (identity is device + inode
// + a fingerprint of the first bytes), a file that does not exist yet
// (waited for) and a partial last line (held until its newline; at
// rotation the old file's unterminated tail is handed out as a line).
type Tailer struct {
	path string
	opt  TailerOptions

	f       *os.File
	cur     Position // identity of f; Offset unused
	readOff int64    // where the next read starts
	lineOff int64    // file offset of pending[0]
	pending []byte   // bytes read but not yet handed out
	started bool     // the first file was opened
	saved   Position // what the state file held at start
	buf     []byte
}

// TailerOptions configures a Tailer.
type TailerOptions struct {
	// StateFile keeps the committed position. Empty: nothing is kept and
	// every start reads the file from the beginning (or end).
	StateFile string
	// Poll is the interval between checks for new data and rotation;
	// 200 ms when 0.
	Poll time.Duration
	// StartAtEnd makes a first start (no saved state) skip what the file
	// already holds.
	StartAtEnd bool
	// MaxBatch caps the lines in one batch; 1024 when 0.
	MaxBatch int
	// MaxLine is the longest line held back waiting for its newline; a
	// longer run of bytes is handed out as a line of its own. 1 MiB when 0.
	MaxLine int
}

// Line is one complete line without its newline.
type Line struct {
	Text string
	// Offset is where the line starts in the file it was read from.
	Offset int64
}

// Batch is what Next returns: lines and the position to commit once they
// are handled.
type Batch struct {
	Lines []Line
	// File is the path the lines were read from: the tailed path, or the
	// rotated name of the old file being finished.
	File string
	Pos  Position
}

// NewTailer returns a Tailer for path, loading the state file if there is
// one. A damaged state file is an error, not a silent restart.
func NewTailer(path string, opt TailerOptions) (*Tailer, error) {
	if opt.Poll <= 0 {
		opt.Poll = 200 * time.Millisecond
	}
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 1024
	}
	if opt.MaxLine <= 0 {
		opt.MaxLine = 1 << 20
	}
	t := &Tailer{path: path, opt: opt, buf: make([]byte, 64<<10)}
	if opt.StateFile != "" {
		p, err := LoadPosition(opt.StateFile)
		if err != nil {
			return nil, err
		}
		t.saved = p
	}
	if opt.StartAtEnd && t.saved == (Position{}) {
		// "The end" is the end now, not whenever Next first runs: lines
		// written between NewTailer and the first Next are new lines.
		opened, err := t.open()
		if err != nil {
			return nil, err
		}
		// And it is the end only once: committed at once, so that a stop
		// before the first batch is committed resumes here rather than
		// skipping, at the next start, what was written meanwhile.
		if opened && opt.StateFile != "" {
			if err := t.Commit(t.position()); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// Close releases the open file. The committed state stays as it is.
func (t *Tailer) Close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// Commit records that every line up to p (a Batch.Pos) was handled.
func (t *Tailer) Commit(p Position) error {
	if t.opt.StateFile == "" {
		return nil
	}
	if err := SavePosition(t.opt.StateFile, p); err != nil {
		return fmt.Errorf("commit tail state: %w", err)
	}
	return nil
}

// Next blocks until at least one complete line is available (or ctx
// ends) and returns a batch.
func (t *Tailer) Next(ctx context.Context) (Batch, error) {
	drained := false // the old file was read to its end after a rotation
	for {
		if err := ctx.Err(); err != nil {
			return Batch{}, err
		}
		if t.f == nil {
			opened, err := t.open()
			if err != nil {
				return Batch{}, err
			}
			if !opened {
				if err := sleep(ctx, t.opt.Poll); err != nil {
					return Batch{}, err
				}
				continue
			}
		}
		if b, ok := t.take(false); ok {
			return b, nil
		}
		n, err := t.f.ReadAt(t.buf, t.readOff)
		if n > 0 && t.readOff > 0 && !t.sameContent() {
			// Rewritten in place and already past our offset.
			t.restart(0)
			continue
		}
		if n > 0 {
			t.pending = append(t.pending, t.buf[:n]...)
			t.readOff += int64(n)
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Batch{}, fmt.Errorf("read %s: %w", t.f.Name(), err)
		}
		// At the end of the file.
		if len(t.pending) >= t.opt.MaxLine {
			if b, ok := t.take(true); ok {
				return b, nil
			}
		}
		switch st, err := os.Stat(t.path); {
		case errors.Is(err, os.ErrNotExist):
			// Renamed away and not created again yet: keep reading the
			// old file until the new one appears.
		case err != nil:
			return Batch{}, fmt.Errorf("stat %s: %w", t.path, err)
		case !sameFile(st, t.cur):
			if !drained {
				drained = true // one more read of the old file
				continue
			}
			if b, ok := t.take(true); ok {
				return b, nil // the old file's unterminated tail
			}
			_ = t.f.Close()
			t.f, t.started = nil, true
			drained = false
			continue
		case st.Size() < t.readOff || !t.sameContent():
			// Truncated (copytruncate) or rewritten in place.
			t.restart(0)
			continue
		}
		if err := sleep(ctx, t.opt.Poll); err != nil {
			return Batch{}, err
		}
	}
}

// take cuts up to MaxBatch complete lines off pending; with all set, an
// unterminated rest becomes a line too.
func (t *Tailer) take(all bool) (Batch, bool) {
	var lines []Line
	off := 0
	for len(lines) < t.opt.MaxBatch {
		i := bytes.IndexByte(t.pending[off:], '\n')
		if i < 0 {
			if all && off < len(t.pending) {
				lines = append(lines, Line{Text: string(t.pending[off:]), Offset: t.lineOff + int64(off)})
				off = len(t.pending)
			}
			break
		}
		text := t.pending[off : off+i]
		text = bytes.TrimSuffix(text, []byte{'\r'})
		lines = append(lines, Line{Text: string(text), Offset: t.lineOff + int64(off)})
		off += i + 1
	}
	if len(lines) == 0 {
		return Batch{}, false
	}
	t.lineOff += int64(off)
	t.pending = append(t.pending[:0], t.pending[off:]...)
	return Batch{Lines: lines, File: t.f.Name(), Pos: t.position()}, true
}

// position is where the lines handed out so far end, in the open file.
func (t *Tailer) position() Position {
	t.refreshFingerprint()
	pos := t.cur
	pos.Path, pos.Offset = t.path, t.lineOff
	return pos
}

// restart drops what was read and reads again from off.
func (t *Tailer) restart(off int64) {
	t.pending = t.pending[:0]
	t.readOff, t.lineOff = off, off
	t.cur.FPLen, t.cur.Fingerprint = 0, ""
	t.refreshFingerprint()
}

// refreshFingerprint extends the fingerprint while the file is shorter
// than fingerprintSize.
func (t *Tailer) refreshFingerprint() {
	if t.f == nil || (t.cur.FPLen == fingerprintSize && t.cur.Fingerprint != "") {
		return
	}
	st, err := t.f.Stat()
	if err != nil {
		return
	}
	n := int(min(st.Size(), fingerprintSize))
	if n < t.cur.FPLen && t.cur.Fingerprint != "" {
		return
	}
	if fp, ok := fingerprint(t.f, n); ok {
		t.cur.FPLen, t.cur.Fingerprint = n, fp
	}
}

// sameContent reports whether the open file still starts with the bytes
// it was fingerprinted by.
func (t *Tailer) sameContent() bool {
	if t.cur.Fingerprint == "" {
		return true
	}
	fp, ok := fingerprint(t.f, t.cur.FPLen)
	return ok && fp == t.cur.Fingerprint
}

// open opens the file to read: on the first start, the saved file (even
// if it was rotated to another name meanwhile) at the saved offset;
// afterwards the file at path from 0. opened is false while it does not
// exist.
func (t *Tailer) open() (opened bool, err error) {
	if !t.started && t.saved.Ino != 0 {
		t.started = true
		if f, off := t.findSaved(); f != nil {
			t.use(f, off)
			return true, nil
		}
	}
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open %s: %w", t.path, err)
	}
	off := int64(0)
	if !t.started {
		t.started = true
		if t.opt.StartAtEnd {
			if st, err := f.Stat(); err == nil {
				off = st.Size()
			}
		}
	}
	t.use(f, off)
	return true, nil
}

// use makes f the file being read, from off.
func (t *Tailer) use(f *os.File, off int64) {
	t.f = f
	t.cur = Position{}
	if st, err := f.Stat(); err == nil {
		t.cur.Dev, t.cur.Ino = devIno(st)
	}
	t.restart(off)
}

// findSaved opens the file the state file names: the one at path if it is
// still the same file, else a rotated sibling (path.1, path-20261127…)
// with the same identity. off is the saved offset.
func (t *Tailer) findSaved() (*os.File, int64) {
	cands := []string{t.path}
	if m, err := filepath.Glob(globEscape(t.path) + "?*"); err == nil {
		cands = append(cands, m...)
	}
	for _, c := range cands {
		f, err := os.Open(c)
		if err != nil {
			continue
		}
		st, err := f.Stat()
		if err == nil && sameFile(st, t.saved) && st.Size() >= t.saved.Offset {
			if t.saved.Fingerprint == "" {
				return f, t.saved.Offset
			}
			if fp, ok := fingerprint(f, t.saved.FPLen); ok && fp == t.saved.Fingerprint {
				return f, t.saved.Offset
			}
		}
		_ = f.Close()
	}
	return nil, 0
}

// globEscape quotes glob metacharacters in a path.
func globEscape(p string) string {
	var b []byte
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[', '\\':
			b = append(b, '\\')
		}
		b = append(b, p[i])
	}
	return string(b)
}

func devIno(st os.FileInfo) (uint64, uint64) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return uint64(s.Dev), s.Ino
	}
	return 0, 0
}

func sameFile(st os.FileInfo, p Position) bool {
	dev, ino := devIno(st)
	return dev == p.Dev && ino == p.Ino
}

func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}
