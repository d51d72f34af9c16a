package ransom

import "golang.org/x/sys/unix"

// open(2) and creat(2) exist on amd64 only.
const (
	sysOpen  = unix.SYS_OPEN
	sysCreat = unix.SYS_CREAT
)
