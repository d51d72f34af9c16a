package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// readStartTime returns a process's start time in clock ticks, field 22
// of <proc>/<pid>/stat.
func readStartTime(proc string, pid int) (uint64, error) {
	b, err := os.ReadFile(proc + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	st, err := parseStartTime(b)
	if err != nil {
		return 0, fmt.Errorf("%s/%d/stat: %w", proc, pid, err)
	}
	return st, nil
}

var errStat = errors.New("malformed stat")

// parseStartTime reads field 22 (starttime) of a /proc/PID/stat line. The
// comm field (2) may hold spaces and parentheses, so fields are counted
// after its last ')'.
func parseStartTime(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: no ')' after comm", errStat)
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, fmt.Errorf("%w: %d fields after comm, want at least 20", errStat, len(fields))
	}
	st, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: starttime %q: %v", errStat, fields[19], err)
	}
	return st, nil
}
