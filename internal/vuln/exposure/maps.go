package exposure

import (
	"bytes"
	"io"
	"os"
)

// procReader reads <proc>/<pid>/maps files into one reused buffer.
type procReader struct {
	buf []byte
}

// maxMaps bounds how much of one maps file is read (a JVM with many
// thread stacks has tens of thousands of lines; the files it loads come
// first, in address order, far below that).
const maxMaps = 16 << 20

// readMaps calls fn once for each distinct file mapped in the maps file at
// name. A process that exited or cannot be read maps nothing.
func (r *procReader) readMaps(name string, fn func(file string, deleted bool)) {
	f, err := os.Open(name)
	if err != nil {
		return
	}
	defer f.Close()
	r.buf = r.buf[:0]
	for len(r.buf) < maxMaps {
		if len(r.buf) == cap(r.buf) {
			r.buf = append(r.buf, 0)[:len(r.buf)]
		}
		n, err := f.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return // the process exited while it was read
		}
	}
	var last []byte
	seen := map[string]struct{}{}
	for rest := r.buf; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		p, deleted, ok := parseMapsLine(line)
		if !ok || bytes.Equal(p, last) {
			continue // a file's segments are listed one after another
		}
		last = p
		if _, ok := seen[string(p)]; ok {
			continue
		}
		s := string(p)
		seen[s] = struct{}{}
		fn(s, deleted)
	}
}

// deletedSuffix is what the kernel appends to the path of a mapped file
// that has since been unlinked.
const deletedSuffix = " (deleted)"

// parseMapsLine returns the path of the file mapped by one line of
// /proc/<pid>/maps (proc(5)):
//
//	7f3a1c600000-7f3a1c628000 r--p 00000000 fe:01 1316  /usr/lib/x86_64-linux-gnu/libc.so.6
//
// ok is false for anonymous mappings ([heap], [stack], [vdso], no path),
// memfd and other pseudo files, and malformed lines. deleted is true when
// the file was unlinked after it was mapped (an upgraded library still in
// use); the suffix is removed from path.
func parseMapsLine(line []byte) (path []byte, deleted, ok bool) {
	// address perms offset dev inode, then spaces, then the pathname,
	// which may itself contain spaces.
	var field [5][]byte
	rest := line
	for i := range field {
		rest = bytes.TrimLeft(rest, " ")
		j := bytes.IndexByte(rest, ' ')
		if j < 0 {
			if i < 4 {
				return nil, false, false
			}
			j = len(rest)
		}
		field[i], rest = rest[:j], rest[j:]
	}
	lo, hi, _ := bytes.Cut(field[0], []byte{'-'})
	if !digits(lo, true) || !digits(hi, true) || len(field[1]) != 4 || bytes.IndexByte(field[3], ':') <= 0 ||
		!digits(field[2], true) || !digits(field[4], false) {
		return nil, false, false
	}
	if string(field[4]) == "0" {
		return nil, false, false // not backed by a file
	}
	path = bytes.TrimLeft(rest, " ")
	if len(path) < 2 || path[0] != '/' || bytes.HasPrefix(path, []byte("/memfd:")) {
		return nil, false, false
	}
	if p, ok := bytes.CutSuffix(path, []byte(deletedSuffix)); ok {
		path, deleted = p, true
	}
	if len(path) < 2 {
		return nil, false, false
	}
	return path, deleted, true
}

// digits reports whether b is a non-empty run of decimal (or, with hex,
// hexadecimal) digits.
func digits(b []byte, hex bool) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if (c < '0' || c > '9') && (!hex || (c < 'a' || c > 'f') && (c < 'A' || c > 'F')) {
			return false
		}
	}
	return true
}
