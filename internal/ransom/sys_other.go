//go:build !amd64

package ransom

// Architectures without open(2) and creat(2): never matched.
const (
	sysOpen  = -1
	sysCreat = -2
)
