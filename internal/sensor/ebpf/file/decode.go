package file

import (
	"encoding/binary"
	"fmt"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor/ebpf/internal/bpfcommon"
)

// Offsets in struct file_rec (file.bpf.c); TestRecordLayout checks them
// against the generated type.
const (
	offOp      = bpfcommon.ProcHeaderSize
	offFlags   = offOp + 4
	offMode    = offOp + 8
	offUID     = offOp + 12
	offGID     = offOp + 16
	offPathLen = offOp + 20
	offNewLen  = offOp + 22
	offDev     = offOp + 24
	offIno     = offOp + 32
	offPath    = offOp + 48
	offNewPath = offPath + pathBuf + 4
	pathBuf    = 512
)

// Kernel op codes (OP_* in file.bpf.c).
var kernelOps = [...]event.FileOp{
	2:  event.OpCreate,
	3:  event.OpOpenWrite,
	4:  event.OpOpenRead,
	5:  event.OpRename,
	6:  event.OpUnlink,
	7:  event.OpChmod,
	8:  event.OpChown,
	9:  event.OpTruncate,
	10: event.OpLink,
	11: event.OpLink, // symlink
}

// decoder turns file records into events.
type decoder struct {
	bootID string
	clock  bpfcommon.Clock
}

// decode parses one ring-buffer record. Records are variable-length: a
// record without a new path ends with its path.
func (d *decoder) decode(b []byte) (*event.Event, error) {
	h, err := bpfcommon.DecodeProcHeader(b)
	if err != nil {
		return nil, err
	}
	if len(b) < offPath {
		return nil, fmt.Errorf("file record of %d bytes is shorter than its %d-byte fixed part", len(b), offPath)
	}
	le := binary.LittleEndian
	opc := le.Uint32(b[offOp:])
	if opc >= uint32(len(kernelOps)) || kernelOps[opc] == "" {
		return nil, fmt.Errorf("file record: unknown op %d", opc)
	}
	path, err := pathAt(b, offPath, int(le.Uint16(b[offPathLen:])), "path")
	if err != nil {
		return nil, err
	}
	fi := &event.FileInfo{
		Op:    kernelOps[opc],
		Path:  path,
		Flags: le.Uint32(b[offFlags:]),
		Mode:  le.Uint32(b[offMode:]),
		UID:   le.Uint32(b[offUID:]),
		GID:   le.Uint32(b[offGID:]),
		Inode: le.Uint64(b[offIno:]),
	}
	if dev := le.Uint64(b[offDev:]); dev != 0 {
		fi.Dev = bpfcommon.KernelDev(dev)
	}
	if n := int(le.Uint16(b[offNewLen:])); n > 0 {
		if fi.NewPath, err = pathAt(b, offNewPath, n, "new path"); err != nil {
			return nil, err
		}
	}
	if fi.Op != event.OpChown {
		fi.UID, fi.GID = 0, 0
	}
	return &event.Event{
		Kind:    event.File,
		Time:    d.clock.Time(h.TimeNs),
		Process: h.Process(d.bootID),
		File:    fi,
	}, nil
}

func pathAt(b []byte, off, n int, what string) (string, error) {
	switch {
	case n == 0 || n >= pathBuf:
		return "", fmt.Errorf("file record: %s length %d out of range 1..%d", what, n, pathBuf-1)
	case off+n > len(b):
		return "", fmt.Errorf("file record: %s of %d bytes at offset %d overruns the %d-byte record", what, n, off, len(b))
	case b[off] != '/':
		return "", fmt.Errorf("file record: %s %q is not absolute", what, b[off:off+n])
	}
	return string(b[off : off+n]), nil
}
