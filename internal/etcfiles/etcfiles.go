// Package etcfiles parses the colon-separated account databases of a
// root tree: passwd(5), group(5) and shadow(5). It is the one parser of
// these files; the accounts collector reports them in full, and the
// processes and scheduled_tasks collectors name users with them.
package etcfiles

import (
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/vigilsec/vigil/internal/textio"
)

// MaxLine bounds one line of a database. Longer lines are reported as
// errors and skipped, so one hostile file cannot grow memory without
// bound.
const MaxLine = 1 << 20

var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLine)

// eachRecord reads the lines of a database as nss_files does. Blank
// lines, comments and NIS compat entries are skipped; fn gets every other
// line without its leading blanks, and a line error when the line is
// malformed. Only '\n' ends a line: a '\r' before it stays in the last
// field. A line longer than MaxLine is a line error. err is a read error.
func eachRecord(r io.Reader, fn func(lr *textio.Reader, line []byte) *textio.LineError) (lineErrs []*textio.LineError, err error) {
	lr := textio.NewReader(r, MaxLine)
	lr.KeepCR = true
	for lr.Next() {
		line := lr.Bytes()
		if lr.Long() {
			lineErrs = append(lineErrs, lr.Errorf("%w", errLineTooLong))
			continue
		}
		if isBlankOrComment(line) || isNIS(line) {
			continue
		}
		if e := fn(lr, trimLeftSpace(line)); e != nil {
			lineErrs = append(lineErrs, e)
		}
	}
	return lineErrs, lr.Err()
}

// PasswdEntry is one line of /etc/passwd.
type PasswdEntry struct {
	Line     int
	Name     string
	Password string
	UID      int
	GID      int
	Gecos    string
	Home     string
	Shell    string
}

// ParsePasswd reads passwd(5) lines. Blank lines, comments and NIS
// compat entries ("+", "-" prefixes) are skipped; a malformed line gives a
// LineError and the rest are still returned. err is a read error.
func ParsePasswd(r io.Reader) (entries []PasswdEntry, lineErrs []*textio.LineError, err error) {
	var f [7][]byte
	lineErrs, err = eachRecord(r, func(lr *textio.Reader, line []byte) *textio.LineError {
		if n := splitFields(line, f[:]); n != len(f) {
			return lr.Errorf("want 7 colon-separated fields, got %d", n)
		}
		if len(f[0]) == 0 {
			return lr.Errorf("empty user name")
		}
		uid, err := parseID(f[2])
		if err != nil {
			return lr.Errorf("user %q: invalid uid %q", f[0], f[2])
		}
		gid, err := parseID(f[3])
		if err != nil {
			return lr.Errorf("user %q: invalid gid %q", f[0], f[3])
		}
		entries = append(entries, PasswdEntry{
			Line: lr.Num(), Name: string(f[0]), Password: string(f[1]), UID: uid, GID: gid,
			Gecos: string(f[4]), Home: string(f[5]), Shell: string(f[6]),
		})
		return nil
	})
	return entries, lineErrs, err
}

// UIDNames maps the uids of entries to user names. The first entry of a
// uid wins, as with getpwuid.
func UIDNames(entries []PasswdEntry) map[int]string {
	m := make(map[int]string, len(entries))
	for _, e := range entries {
		if _, dup := m[e.UID]; !dup {
			m[e.UID] = e.Name
		}
	}
	return m
}

// GroupEntry is one line of /etc/group.
type GroupEntry struct {
	Line    int
	Name    string
	GID     int
	Members []string
}

// ParseGroup reads group(5) lines, like ParsePasswd.
func ParseGroup(r io.Reader) (entries []GroupEntry, lineErrs []*textio.LineError, err error) {
	var f [4][]byte
	lineErrs, err = eachRecord(r, func(lr *textio.Reader, line []byte) *textio.LineError {
		if n := splitFields(line, f[:]); n != len(f) {
			return lr.Errorf("want 4 colon-separated fields, got %d", n)
		}
		if len(f[0]) == 0 {
			return lr.Errorf("empty group name")
		}
		gid, err := parseID(f[2])
		if err != nil {
			return lr.Errorf("group %q: invalid gid %q", f[0], f[2])
		}
		g := GroupEntry{Line: lr.Num(), Name: string(f[0]), GID: gid}
		for m := range bytes.SplitSeq(f[3], []byte{','}) {
			if m = bytes.TrimSpace(m); len(m) > 0 {
				g.Members = append(g.Members, string(m))
			}
		}
		entries = append(entries, g)
		return nil
	})
	return entries, lineErrs, err
}

// ShadowEntry is one line of /etc/shadow.
type ShadowEntry struct {
	Line int
	Name string
	Hash string
	// LastChange is the day of the last password change (days since
	// 1970-01-01), or -1 when the field is empty. 0 means the user must
	// change the password at the next login.
	LastChange int
	// MaxDays is the maximum password age in days, or -1 when the field is
	// empty.
	MaxDays int
}

// ParseShadow reads shadow(5) lines, like ParsePasswd. Entries have 2 to 9
// fields (trailing fields may be missing on hand-edited files).
func ParseShadow(r io.Reader) (entries []ShadowEntry, lineErrs []*textio.LineError, err error) {
	var f [10][]byte
	lineErrs, err = eachRecord(r, func(lr *textio.Reader, line []byte) *textio.LineError {
		n := splitFields(line, f[:])
		if n < 2 || n > 9 {
			return lr.Errorf("want 9 colon-separated fields, got %d", n)
		}
		if len(f[0]) == 0 {
			return lr.Errorf("empty user name")
		}
		e := ShadowEntry{Line: lr.Num(), Name: string(f[0]), Hash: string(f[1]), LastChange: -1, MaxDays: -1}
		var err error
		if n > 2 && len(f[2]) > 0 {
			if e.LastChange, err = parseDays(f[2]); err != nil {
				return lr.Errorf("user %q: invalid last change %q", f[0], f[2])
			}
		}
		if n > 4 && len(f[4]) > 0 {
			if e.MaxDays, err = parseDays(f[4]); err != nil {
				return lr.Errorf("user %q: invalid maximum age %q", f[0], f[4])
			}
		}
		entries = append(entries, e)
		return nil
	})
	return entries, lineErrs, err
}

// isNIS reports NIS compat lines ("+", "+name", "-name", "+@netgroup").
func isNIS(line []byte) bool {
	line = trimLeftSpace(line)
	return len(line) > 0 && (line[0] == '+' || line[0] == '-')
}

// splitFields splits line at ':' into f and returns the number of fields,
// which may exceed len(f) (the extra fields are not stored).
func splitFields(line []byte, f [][]byte) int {
	n := 0
	for {
		i := bytes.IndexByte(line, ':')
		if n < len(f) {
			if i < 0 {
				f[n] = line
			} else {
				f[n] = line[:i]
			}
		}
		n++
		if i < 0 {
			return n
		}
		line = line[i+1:]
	}
}

func parseID(b []byte) (int, error) {
	v, err := strconv.ParseUint(string(b), 10, 32)
	return int(v), err
}

// parseDays parses a shadow day count. Negative values (-1) are how some
// tools write "disabled"; they are kept as -1.
func parseDays(b []byte) (int, error) {
	v, err := strconv.ParseInt(string(b), 10, 32)
	if v < 0 {
		v = -1
	}
	return int(v), err
}

// isBlankOrComment reports whether a line of a colon-separated database
// is ignored, as glibc's nss_files does: blank after leading whitespace,
// or starting with '#'.
func isBlankOrComment(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r', '\v', '\f':
			continue
		case '#':
			return true
		}
		return false
	}
	return true
}

// trimLeftSpace drops leading blanks, as nss_files does.
func trimLeftSpace(line []byte) []byte {
	for len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		line = line[1:]
	}
	return line
}
