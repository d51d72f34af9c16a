package rpmfmt

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// NDB, rpm's own "Packages.db" format (rpm lib/backend/ndb/rpmpkg.c; all
// little-endian):
//
//	header, 32 bytes: magic "RpmP", version 0, generation, slot page count
//	slots: slot pages of 4096 bytes (the header takes the first two slots),
//	       each slot 16 bytes: magic "Slot", package index, block offset,
//	       block count; package index 0 is a free slot
//	blobs at block offset*16: 16-byte header (magic "BlbS", package index,
//	       checksum, length), then the package header of that length
const (
	ndbHeaderMagic = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic   = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobMagic   = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbBlockSize   = 16
	ndbSlotPage    = 4096
	ndbMaxPages    = 2048 // go-rpmdb's sanity limit
)

// IsNDB reports whether b starts an NDB Packages.db.
func IsNDB(b []byte) bool {
	return len(b) >= 4 && binary.LittleEndian.Uint32(b) == ndbHeaderMagic
}

// ReadNDB calls fn with every package header blob of an NDB Packages.db
// of size bytes.
func ReadNDB(ctx context.Context, r io.ReaderAt, size int64, fn func([]byte)) error {
	var hdr [32]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return fmt.Errorf("read ndb header: %w", err)
	}
	if v := binary.LittleEndian.Uint32(hdr[4:]); v != 0 {
		return fmt.Errorf("ndb: unsupported version %d", v)
	}
	pages := int64(binary.LittleEndian.Uint32(hdr[12:]))
	if pages == 0 || pages > ndbMaxPages || pages*ndbSlotPage > size {
		return fmt.Errorf("ndb: bad slot page count %d for a %d-byte file", pages, size)
	}
	slots := make([]byte, pages*ndbSlotPage-32)
	if _, err := r.ReadAt(slots, 32); err != nil {
		return fmt.Errorf("ndb: read slots: %w", err)
	}
	var bh [16]byte
	for i := 0; i+16 <= len(slots); i += 16 {
		if i%(256*16) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		s := slots[i:]
		if binary.LittleEndian.Uint32(s) != ndbSlotMagic {
			return fmt.Errorf("ndb: slot %d: bad magic", i/16)
		}
		pkg := binary.LittleEndian.Uint32(s[4:])
		if pkg == 0 {
			continue
		}
		off := int64(binary.LittleEndian.Uint32(s[8:])) * ndbBlockSize
		if _, err := r.ReadAt(bh[:], off); err != nil {
			return fmt.Errorf("ndb: package %d: read blob header at %d: %w", pkg, off, err)
		}
		if binary.LittleEndian.Uint32(bh[:]) != ndbBlobMagic {
			return fmt.Errorf("ndb: package %d: bad blob magic at %d", pkg, off)
		}
		if got := binary.LittleEndian.Uint32(bh[4:]); got != pkg {
			return fmt.Errorf("ndb: package %d: blob belongs to package %d", pkg, got)
		}
		n := int64(binary.LittleEndian.Uint32(bh[12:]))
		if n > MaxHeader || off+16+n > size {
			return fmt.Errorf("ndb: package %d: blob length %d beyond the end of the file", pkg, n)
		}
		blob := make([]byte, n)
		if _, err := r.ReadAt(blob, off+16); err != nil {
			return fmt.Errorf("ndb: package %d: read blob: %w", pkg, err)
		}
		fn(blob)
	}
	return nil
}
