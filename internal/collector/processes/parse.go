package processes

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/procutil"
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

// parseStat parses /proc/<pid>/stat (procutil.ParseStat) into the fields
// the collector uses.
func parseStat(b []byte) (stat, error) {
	s, err := procutil.ParseStat(b)
	if err != nil {
		return stat{}, err
	}
	return stat{comm: s.Comm, ppid: s.PPID, flags: s.Flags, startTime: s.StartTime}, nil
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
