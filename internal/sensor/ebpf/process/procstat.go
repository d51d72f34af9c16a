package process

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/vigilsec/vigil/internal/procutil"
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

// parseStartTime reads field 22 (starttime) of a /proc/PID/stat line.
func parseStartTime(b []byte) (uint64, error) {
	s, err := procutil.ParseStat(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", errStat, err)
	}
	return s.StartTime, nil
}
