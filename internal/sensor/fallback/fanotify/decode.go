package fanotify

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// metadataLen is sizeof(struct fanotify_event_metadata).
const metadataLen = 24

// Record is one event read from a fanotify group.
type Record struct {
	Mask uint64
	// FD is the open file of an fd-reporting group, or -1 (FAN_NOFD). The
	// reader owns it and must close it.
	FD  int
	PID int
	// Infos are the fid records of a FAN_REPORT_DFID_NAME group.
	Infos []Info
}

// Info is one struct fanotify_event_info_fid, with the name that follows
// the handle in the *_DFID_NAME kinds.
type Info struct {
	Type       uint8 // unix.FAN_EVENT_INFO_TYPE_*
	FSID       [2]int32
	HandleType int32
	Handle     []byte // f_handle bytes (aliases the read buffer)
	Name       string
}

// Decode decodes the events in b, one read(2) of a fanotify fd. It returns
// the records decoded before the first malformed one, and an error naming
// the malformation; the kernel never writes partial events, so an error
// means a bug or a format this code does not know.
func Decode(b []byte, recs []Record) ([]Record, error) {
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < metadataLen {
			return recs, fmt.Errorf("event at offset %d: %d bytes left, want %d", off, len(rest), metadataLen)
		}
		evLen := int(ne.Uint32(rest[0:]))
		vers := rest[4]
		metaLen := int(ne.Uint16(rest[6:]))
		if vers != unix.FANOTIFY_METADATA_VERSION {
			return recs, fmt.Errorf("event at offset %d: metadata version %d, want %d", off, vers, unix.FANOTIFY_METADATA_VERSION)
		}
		if evLen < metadataLen || evLen > len(rest) || metaLen < metadataLen || metaLen > evLen {
			return recs, fmt.Errorf("event at offset %d: length %d, metadata length %d, %d bytes left", off, evLen, metaLen, len(rest))
		}
		r := Record{
			Mask: ne.Uint64(rest[8:]),
			FD:   int(int32(ne.Uint32(rest[16:]))),
			PID:  int(int32(ne.Uint32(rest[20:]))),
		}
		infos, err := decodeInfos(rest[metaLen:evLen])
		if err != nil {
			// Keep the fd so the caller can close it.
			recs = append(recs, Record{Mask: r.Mask, FD: r.FD, PID: r.PID})
			return recs, fmt.Errorf("event at offset %d: %w", off, err)
		}
		r.Infos = infos
		recs = append(recs, r)
		off += evLen
	}
	return recs, nil
}

func decodeInfos(b []byte) ([]Info, error) {
	var infos []Info
	for len(b) > 0 {
		if len(b) < 4 {
			return infos, fmt.Errorf("info header: %d bytes", len(b))
		}
		typ, n := b[0], int(ne.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			return infos, fmt.Errorf("info type %d: length %d, %d bytes left", typ, n, len(b))
		}
		body := b[4:n]
		b = b[n:]
		switch typ {
		case unix.FAN_EVENT_INFO_TYPE_FID, unix.FAN_EVENT_INFO_TYPE_DFID,
			unix.FAN_EVENT_INFO_TYPE_DFID_NAME, unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME,
			unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
		default:
			continue // pidfd, error, range, mount: not used here
		}
		// fsid (8), handle_bytes (4), handle_type (4), f_handle, [name\0]
		if len(body) < 16 {
			return infos, fmt.Errorf("fid info: %d bytes, want at least 16", len(body))
		}
		in := Info{Type: typ}
		in.FSID[0], in.FSID[1] = int32(ne.Uint32(body[0:])), int32(ne.Uint32(body[4:]))
		hlen := int(ne.Uint32(body[8:]))
		in.HandleType = int32(ne.Uint32(body[12:]))
		if hlen > len(body)-16 {
			return infos, fmt.Errorf("fid info: handle of %d bytes in %d", hlen, len(body)-16)
		}
		in.Handle = body[16 : 16+hlen]
		if typ != unix.FAN_EVENT_INFO_TYPE_FID && typ != unix.FAN_EVENT_INFO_TYPE_DFID {
			name := body[16+hlen:]
			end := bytes.IndexByte(name, 0)
			if end < 0 {
				return infos, fmt.Errorf("fid info: name without terminating NUL")
			}
			in.Name = string(name[:end])
		}
		infos = append(infos, in)
	}
	return infos, nil
}

var ne = binary.NativeEndian
