package accounts

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

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
func ParsePasswd(r io.Reader) (entries []PasswdEntry, lineErrs []*LineError, err error) {
	lr := newLineReader(r)
	var f [7][]byte
	for {
		line, ok := lr.next()
		if !ok {
			break
		}
		if lr.tooLong {
			lineErrs = append(lineErrs, lr.lineErr("%w", errLineTooLong))
			continue
		}
		if isBlankOrComment(line) || isNIS(line) {
			continue
		}
		line = trimLeftSpace(line)
		if n := splitFields(line, f[:]); n != len(f) {
			lineErrs = append(lineErrs, lr.lineErr("want 7 colon-separated fields, got %d", n))
			continue
		}
		if len(f[0]) == 0 {
			lineErrs = append(lineErrs, lr.lineErr("empty user name"))
			continue
		}
		uid, err := parseID(f[2])
		if err != nil {
			lineErrs = append(lineErrs, lr.lineErr("user %q: invalid uid %q", f[0], f[2]))
			continue
		}
		gid, err := parseID(f[3])
		if err != nil {
			lineErrs = append(lineErrs, lr.lineErr("user %q: invalid gid %q", f[0], f[3]))
			continue
		}
		entries = append(entries, PasswdEntry{
			Line: lr.n, Name: string(f[0]), Password: string(f[1]), UID: uid, GID: gid,
			Gecos: string(f[4]), Home: string(f[5]), Shell: string(f[6]),
		})
	}
	return entries, lineErrs, lr.Err()
}

// GroupEntry is one line of /etc/group.
type GroupEntry struct {
	Line    int
	Name    string
	GID     int
	Members []string
}

// ParseGroup reads group(5) lines, like ParsePasswd.
func ParseGroup(r io.Reader) (entries []GroupEntry, lineErrs []*LineError, err error) {
	lr := newLineReader(r)
	var f [4][]byte
	for {
		line, ok := lr.next()
		if !ok {
			break
		}
		if lr.tooLong {
			lineErrs = append(lineErrs, lr.lineErr("%w", errLineTooLong))
			continue
		}
		if isBlankOrComment(line) || isNIS(line) {
			continue
		}
		line = trimLeftSpace(line)
		if n := splitFields(line, f[:]); n != len(f) {
			lineErrs = append(lineErrs, lr.lineErr("want 4 colon-separated fields, got %d", n))
			continue
		}
		if len(f[0]) == 0 {
			lineErrs = append(lineErrs, lr.lineErr("empty group name"))
			continue
		}
		gid, err := parseID(f[2])
		if err != nil {
			lineErrs = append(lineErrs, lr.lineErr("group %q: invalid gid %q", f[0], f[2]))
			continue
		}
		g := GroupEntry{Line: lr.n, Name: string(f[0]), GID: gid}
		for m := range bytes.SplitSeq(f[3], []byte{','}) {
			if m = bytes.TrimSpace(m); len(m) > 0 {
				g.Members = append(g.Members, string(m))
			}
		}
		entries = append(entries, g)
	}
	return entries, lineErrs, lr.Err()
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
func ParseShadow(r io.Reader) (entries []ShadowEntry, lineErrs []*LineError, err error) {
	lr := newLineReader(r)
	var f [10][]byte
	for {
		line, ok := lr.next()
		if !ok {
			break
		}
		if lr.tooLong {
			lineErrs = append(lineErrs, lr.lineErr("%w", errLineTooLong))
			continue
		}
		if isBlankOrComment(line) || isNIS(line) {
			continue
		}
		line = trimLeftSpace(line)
		n := splitFields(line, f[:])
		if n < 2 || n > 9 {
			lineErrs = append(lineErrs, lr.lineErr("want 9 colon-separated fields, got %d", n))
			continue
		}
		if len(f[0]) == 0 {
			lineErrs = append(lineErrs, lr.lineErr("empty user name"))
			continue
		}
		e := ShadowEntry{Line: lr.n, Name: string(f[0]), Hash: string(f[1]), LastChange: -1, MaxDays: -1}
		if n > 2 && len(f[2]) > 0 {
			if e.LastChange, err = parseDays(f[2]); err != nil {
				lineErrs = append(lineErrs, lr.lineErr("user %q: invalid last change %q", f[0], f[2]))
				continue
			}
		}
		if n > 4 && len(f[4]) > 0 {
			if e.MaxDays, err = parseDays(f[4]); err != nil {
				lineErrs = append(lineErrs, lr.lineErr("user %q: invalid maximum age %q", f[0], f[4]))
				continue
			}
		}
		entries = append(entries, e)
	}
	return entries, lineErrs, lr.Err()
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

// Password states, as inventory.User.PasswordState documents them.
const (
	PasswordNone    = "none"
	PasswordLocked  = "locked"
	PasswordSet     = "set"
	PasswordUnknown = "unknown"
)

// PasswordState classifies a crypt(5) hash field of shadow (or of passwd,
// where no shadow is used) and names its hashing scheme when it has one.
// A locked field ('!', '*', "!!", "*LK*") may still carry a hash behind
// the lock ("!$6$..."), whose scheme is then reported.
func PasswordState(hash string) (state, scheme string) {
	switch {
	case hash == "":
		return PasswordNone, ""
	case hash[0] == '!' || hash[0] == '*':
		return PasswordLocked, HashScheme(strings.TrimLeft(hash, "!*"))
	}
	s := HashScheme(hash)
	if s == "" {
		s = "unknown"
	}
	return PasswordSet, s
}

// HashScheme names the crypt(5) scheme of hash, or "" when it is none
// that crypt knows.
func HashScheme(hash string) string {
	if strings.HasPrefix(hash, "$") {
		id, _, ok := strings.Cut(hash[1:], "$")
		if !ok {
			return ""
		}
		switch id {
		case "1":
			return "md5"
		case "2", "2a", "2b", "2x", "2y":
			return "bcrypt"
		case "3":
			return "nthash"
		case "5":
			return "sha256"
		case "6":
			return "sha512"
		case "7":
			return "scrypt"
		case "y":
			return "yescrypt"
		case "gy":
			return "gost-yescrypt"
		case "sha1":
			return "sha1"
		case "md5":
			return "sun-md5"
		}
		return ""
	}
	switch {
	case len(hash) == 13 && isCryptChars(hash):
		return "des"
	case len(hash) == 20 && hash[0] == '_' && isCryptChars(hash[1:]):
		return "bsdi-des"
	}
	return ""
}

func isCryptChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '/' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

// noMaxDays is the conventional "no maximum password age" value.
const noMaxDays = 99999

// shadowDates converts shadow day counts to the inventory's fields.
func shadowDates(e *ShadowEntry) (lastChange *time.Time, maxDays *int) {
	if e.LastChange >= 0 {
		t := time.Unix(int64(e.LastChange)*86400, 0).UTC()
		lastChange = &t
	}
	if e.MaxDays >= 0 && e.MaxDays < noMaxDays {
		m := e.MaxDays
		maxDays = &m
	}
	return lastChange, maxDays
}

// interactiveShell reports whether shell gives a login session: false
// for "" and for the programs that refuse or end logins.
func interactiveShell(shell string) bool {
	shell = strings.TrimSpace(shell)
	if shell == "" {
		return false
	}
	base := shell[strings.LastIndexByte(shell, '/')+1:]
	switch base {
	case "nologin", "false", "true", "sync", "shutdown", "halt", "":
		return false
	}
	return true
}
