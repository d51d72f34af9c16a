package rpmfmt

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// BerkeleyDB hash database, as rpm's "Packages" file (db-4/5 hash access
// method; layout as in go-rpmdb pkg/bdb):
//
//	page 0: metadata; magic at 12, page size at 20, encryption at 24,
//	        page type (8) at 25, last page number at 32
//	hash pages (type 13, or 2 before db 4.6): a 26-byte page header
//	        (next page at 16, entry count at 20, free-area offset at 22,
//	        type at 25), then entry-count uint16 offsets of key/value
//	        items; a value item of type 3 (HOFFPAGE) points at the first
//	        page of an overflow chain holding one package header
//	overflow pages (type 7): header, then data up to the free-area offset
//	        on the last page of a chain, or the whole page before it
const (
	// BDBMetaSize is the length of the BerkeleyDB metadata read to detect it.
	BDBMetaSize      = 512
	bdbHashMagic     = 0x00061561
	bdbPageHeader    = 26
	bdbMetaPage      = 8
	bdbHashPage      = 13
	bdbHashPageOld   = 2
	bdbOverflowPage  = 7
	bdbOffPageItem   = 3
	bdbOffPageSize   = 12
	bdbMaxPageSize   = 64 << 10
	bdbMinPageSize   = 512
	bdbCtxEveryPages = 256
)

// IsBDB reports whether b starts a BerkeleyDB hash database.
func IsBDB(b []byte) bool {
	if len(b) < 16 {
		return false
	}
	return binary.LittleEndian.Uint32(b[12:]) == bdbHashMagic || binary.BigEndian.Uint32(b[12:]) == bdbHashMagic
}

// ReadBDB calls fn with every package header blob of a BerkeleyDB
// Packages file of size bytes.
func ReadBDB(ctx context.Context, r io.ReaderAt, size int64, fn func([]byte)) error {
	meta := make([]byte, BDBMetaSize)
	if _, err := r.ReadAt(meta, 0); err != nil {
		return fmt.Errorf("read bdb metadata: %w", err)
	}
	var order binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(meta[12:]) == bdbHashMagic {
		order = binary.BigEndian
	}
	pageSize := int64(order.Uint32(meta[20:]))
	if pageSize < bdbMinPageSize || pageSize > bdbMaxPageSize || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("bdb: bad page size %d", pageSize)
	}
	if meta[24] != 0 {
		return fmt.Errorf("bdb: encrypted database (algorithm %d)", meta[24])
	}
	if meta[25] != bdbMetaPage {
		return fmt.Errorf("bdb: not a hash database (metadata page type %d)", meta[25])
	}
	lastPage := int64(order.Uint32(meta[32:]))
	if (lastPage+1)*pageSize > size {
		return fmt.Errorf("bdb: last page %d lies beyond the end of the %d-byte file", lastPage, size)
	}

	page := make([]byte, pageSize)
	ovf := make([]byte, pageSize)
	for pn := int64(1); pn <= lastPage; pn++ {
		if pn%bdbCtxEveryPages == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if _, err := r.ReadAt(page, pn*pageSize); err != nil {
			return fmt.Errorf("bdb: read page %d: %w", pn, err)
		}
		if t := page[25]; t != bdbHashPage && t != bdbHashPageOld {
			continue
		}
		n := int64(order.Uint16(page[20:]))
		if n%2 != 0 || bdbPageHeader+2*n > pageSize {
			return fmt.Errorf("bdb: page %d: bad entry count %d", pn, n)
		}
		// Entries come in key/value pairs; the values are the odd ones.
		for i := int64(1); i < n; i += 2 {
			off := int64(order.Uint16(page[bdbPageHeader+2*i:]))
			if off >= pageSize {
				return fmt.Errorf("bdb: page %d: item offset %d out of page", pn, off)
			}
			if page[off] != bdbOffPageItem {
				continue // inline item: not a package header
			}
			if off+bdbOffPageSize > pageSize {
				return fmt.Errorf("bdb: page %d: overflow item at %d out of page", pn, off)
			}
			first := int64(order.Uint32(page[off+4:]))
			length := int64(order.Uint32(page[off+8:]))
			blob, err := readOverflow(r, order, ovf, first, length, lastPage, pageSize)
			if err != nil {
				return fmt.Errorf("bdb: page %d item %d: %w", pn, i, err)
			}
			fn(blob)
		}
	}
	return nil
}

// readOverflow reads the overflow chain starting at page first. It stops
// on a chain that is longer than the file, leaves it, or holds more than
// length bytes.
func readOverflow(r io.ReaderAt, order binary.ByteOrder, buf []byte, first, length, lastPage, pageSize int64) ([]byte, error) {
	if length > MaxHeader || length > (lastPage+1)*pageSize {
		return nil, fmt.Errorf("item length %d too large", length)
	}
	blob := make([]byte, 0, length)
	steps := int64(0)
	for pn := first; pn != 0; steps++ {
		if pn > lastPage || steps > lastPage {
			return nil, fmt.Errorf("overflow chain leaves the file or loops at page %d", pn)
		}
		if _, err := r.ReadAt(buf, pn*pageSize); err != nil {
			return nil, fmt.Errorf("read overflow page %d: %w", pn, err)
		}
		if buf[25] != bdbOverflowPage {
			return nil, fmt.Errorf("page %d in an overflow chain has type %d", pn, buf[25])
		}
		next := int64(order.Uint32(buf[16:]))
		end := pageSize
		if next == 0 {
			end = bdbPageHeader + int64(order.Uint16(buf[22:]))
			if end > pageSize {
				return nil, fmt.Errorf("overflow page %d: data end %d out of page", pn, end)
			}
		}
		if int64(len(blob))+end-bdbPageHeader > length {
			return nil, fmt.Errorf("overflow chain holds more than the item's %d bytes", length)
		}
		blob = append(blob, buf[bdbPageHeader:end]...)
		pn = next
	}
	return blob, nil
}
