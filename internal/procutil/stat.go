package procutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Stat holds the fields of /proc/PID/stat that Vigil reads.
type Stat struct {
	Comm      string
	State     []byte // field 3, as written (one letter on real kernels)
	PPID      int
	TTYNr     uint32 // field 7, the controlling terminal's device number
	Flags     uint64 // field 9 (PF_* flags)
	StartTime uint64 // field 22, clock ticks since boot
}

// ParseStat parses /proc/PID/stat: "pid (comm) state ppid …". comm may
// hold spaces and parentheses, so it runs to the last ')'; the fields
// after it are numbered from 3 as in proc(5). The leading PID is not
// parsed: callers that need it check it themselves.
func ParseStat(b []byte) (Stat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return Stat{}, errors.New("no (comm)")
	}
	s := Stat{Comm: string(b[open+1 : end])}
	rest := b[end+1:]
	field := 2
	for len(rest) > 0 && field < 22 {
		rest = bytes.TrimLeft(rest, " ")
		i := bytes.IndexByte(rest, ' ')
		if i < 0 {
			i = len(rest)
		}
		f := bytes.TrimRight(rest[:i], "\n")
		rest = rest[i:]
		if len(f) == 0 {
			break
		}
		field++
		var err error
		switch field {
		case 3:
			s.State = f
		case 4:
			var v uint64
			v, err = strconv.ParseUint(string(f), 10, 31)
			s.PPID = int(v)
		case 7:
			// tty_nr is printed as a signed int.
			var n int64
			n, err = strconv.ParseInt(string(f), 10, 32)
			s.TTYNr = uint32(n)
		case 9:
			s.Flags, err = strconv.ParseUint(string(f), 10, 64)
		case 22:
			s.StartTime, err = strconv.ParseUint(string(f), 10, 64)
		}
		if err != nil {
			return Stat{}, fmt.Errorf("field %d %q: not a number", field, f)
		}
	}
	if field < 22 {
		return Stat{}, fmt.Errorf("%d fields, want at least 22", field)
	}
	return s, nil
}

// ParseBtime returns the boot time, in seconds since the epoch, from the
// "btime" line of /proc/stat.
func ParseBtime(b []byte) (int64, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		v, ok := bytes.CutPrefix(line, []byte("btime "))
		if !ok {
			continue
		}
		t, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil || t < 0 {
			return 0, fmt.Errorf("btime %q: not a number", v)
		}
		return t, nil
	}
	return 0, errors.New("no btime line")
}

// BootTime reads the boot time (seconds since the epoch) from procPath's
// stat file.
func BootTime(procPath string) (int64, error) {
	p := filepath.Join(procPath, "stat")
	b, err := os.ReadFile(p)
	if err != nil {
		return 0, err
	}
	t, err := ParseBtime(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p, err)
	}
	return t, nil
}
