package processes

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// pfKthread is PF_KTHREAD in the flags field of /proc/<pid>/stat.
const pfKthread = 0x00200000

// stat holds the fields of /proc/<pid>/stat the collector uses.
type stat struct {
	comm      string
	ppid      int
	flags     uint64
	startTime uint64 // clock ticks since boot
}

// parseStat parses /proc/<pid>/stat: "pid (comm) state ppid ...". comm
// may hold spaces and parentheses, so it runs to the last ')'.
func parseStat(b []byte) (stat, error) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return stat{}, errors.New("no (comm)")
	}
	s := stat{comm: string(b[open+1 : end])}
	// Fields after comm, numbered from 3 as in proc(5).
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
		case 4:
			var v uint64
			v, err = strconv.ParseUint(string(f), 10, 31)
			s.ppid = int(v)
		case 9:
			s.flags, err = strconv.ParseUint(string(f), 10, 64)
		case 22:
			s.startTime, err = strconv.ParseUint(string(f), 10, 64)
		}
		if err != nil {
			return stat{}, fmt.Errorf("field %d %q: not a number", field, f)
		}
	}
	if field < 22 {
		return stat{}, fmt.Errorf("%d fields, want at least 22", field)
	}
	return s, nil
}

// parseUID returns the real uid from the "Uid:" line of
// /proc/<pid>/status ("Uid:\treal\teffective\tsaved\tfs").
func parseUID(b []byte) (int, error) {
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		v, ok := bytes.CutPrefix(line, []byte("Uid:"))
		if !ok {
			continue
		}
		f := bytes.Fields(v)
		if len(f) == 0 {
			return -1, errors.New("empty Uid line")
		}
		uid, err := strconv.ParseUint(string(f[0]), 10, 32)
		if err != nil {
			return -1, fmt.Errorf("uid %q: not a number", f[0])
		}
		return int(uid), nil
	}
	return -1, errors.New("no Uid line")
}

// splitCmdline splits /proc/<pid>/cmdline on NULs. A process that
// rewrote its arguments (nginx, postgres) may leave one string with
// spaces; that is kept as one argument.
func splitCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	return strings.Split(string(b), "\x00")
}

// parseBtime returns the boot time in seconds since the epoch from the
// "btime" line of /proc/stat.
func parseBtime(b []byte) (int64, error) {
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
