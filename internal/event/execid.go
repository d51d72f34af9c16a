package event

import (
	"strconv"
	"strings"
)

// ExecID builds the stable identity of a process image: the boot ID, the
// process start time in nanoseconds since boot, and the PID. A PID alone is
// reused; the three together are not, across reboots either.
func ExecID(bootID string, startTime uint64, pid int) string {
	var b strings.Builder
	b.Grow(len(bootID) + 32)
	b.WriteString(strings.ReplaceAll(bootID, "-", ""))
	b.WriteByte(':')
	b.WriteString(strconv.FormatUint(startTime, 10))
	b.WriteByte(':')
	b.WriteString(strconv.Itoa(pid))
	return b.String()
}
