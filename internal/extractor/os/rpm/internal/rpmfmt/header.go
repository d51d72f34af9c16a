// Package rpmfmt decodes rpm package headers and reads the BerkeleyDB and
// NDB rpm database formats, bounds-checked. It has no SQLite dependency,
// so its fuzz targets run fast.
package rpmfmt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// An rpm header blob as stored in the database (rpm lib/header.c):
//
//	il  int32 BE   number of index entries
//	dl  int32 BE   length of the data store
//	il * { tag int32, type uint32, offset int32, count uint32 }  (BE)
//	dl bytes of data; entry offsets are relative to its start
//
// The first entry is usually a region tag (HEADERIMMUTABLE); entries added
// at install time follow the region and override it ("dribble"), so for a
// tag seen twice the last one wins.
const (
	tagName      = 1000
	tagVersion   = 1001
	tagRelease   = 1002
	tagEpoch     = 1003
	tagVendor    = 1011
	tagPackager  = 1015
	tagArch      = 1022
	tagSourceRPM = 1044

	typeInt32      = 4
	typeString     = 6
	typeI18NString = 9

	entrySize = 16
	// MaxHeader is rpm's own limit on a header (headerMaxbytes, 256 MiB).
	MaxHeader = 256 << 20
)

// Header holds the tags of a package header that Vigil reports.
type Header struct {
	Name, Version, Release, Arch string
	// Epoch is nil when the header has none.
	Epoch                       *int
	SourceRPM, Vendor, Packager string
}

// ParseHeader decodes the tags this package reports from one header blob.
func ParseHeader(b []byte) (*Header, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("header of %d bytes is too short", len(b))
	}
	il := int64(int32(binary.BigEndian.Uint32(b[0:])))
	dl := int64(int32(binary.BigEndian.Uint32(b[4:])))
	if il < 1 || dl < 0 || 8+il*entrySize+dl > MaxHeader {
		return nil, fmt.Errorf("bad header sizes: %d entries, %d data bytes", il, dl)
	}
	dataStart := 8 + il*entrySize
	if dataStart+dl > int64(len(b)) {
		return nil, fmt.Errorf("header of %d bytes is shorter than its %d entries and %d data bytes", len(b), il, dl)
	}
	data := b[dataStart : dataStart+dl]
	h := &Header{}
	for i := range il {
		e := b[8+i*entrySize:]
		tag := binary.BigEndian.Uint32(e[0:])
		typ := binary.BigEndian.Uint32(e[4:])
		off := int64(int32(binary.BigEndian.Uint32(e[8:])))
		count := binary.BigEndian.Uint32(e[12:])
		var dst *string
		switch tag {
		case tagName:
			dst = &h.Name
		case tagVersion:
			dst = &h.Version
		case tagRelease:
			dst = &h.Release
		case tagArch:
			dst = &h.Arch
		case tagSourceRPM:
			dst = &h.SourceRPM
		case tagVendor:
			dst = &h.Vendor
		case tagPackager:
			dst = &h.Packager
		case tagEpoch:
			if typ != typeInt32 || count < 1 || off < 0 || off+4 > dl {
				return nil, fmt.Errorf("bad EPOCH entry: type %d, count %d, offset %d", typ, count, off)
			}
			v := int(int32(binary.BigEndian.Uint32(data[off:])))
			h.Epoch = &v
			continue
		default:
			continue
		}
		if (typ != typeString && typ != typeI18NString) || count < 1 || off < 0 || off >= dl {
			return nil, fmt.Errorf("bad string entry for tag %d: type %d, count %d, offset %d", tag, typ, count, off)
		}
		end := bytes.IndexByte(data[off:], 0)
		if end < 0 {
			return nil, fmt.Errorf("string of tag %d is not terminated", tag)
		}
		*dst = string(data[off : off+int64(end)])
	}
	if h.Name == "" {
		return nil, errors.New("header has no NAME")
	}
	return h, nil
}

// Package turns a header into an inventory Package. An unparsable SOURCERPM is returned
// as an error together with the package, whose source then defaults to
// itself.
func (h *Header) Package(source string) (inventory.Package, error) {
	version := h.Version
	if h.Release != "" {
		version += "-" + h.Release
	}
	if h.Epoch != nil && *h.Epoch != 0 {
		version = strconv.Itoa(*h.Epoch) + ":" + version
	}
	maintainer := h.Vendor
	if maintainer == "" {
		maintainer = h.Packager
	}
	p := inventory.Package{
		Name:          h.Name,
		Version:       version,
		SourceName:    h.Name,
		SourceVersion: version,
		Arch:          h.Arch,
		Type:          "rpm",
		Source:        source,
		Maintainer:    maintainer,
	}
	if h.SourceRPM == "" || h.SourceRPM == "(none)" {
		return p, nil
	}
	name, ver, ok := ParseSourceRPM(h.SourceRPM)
	if !ok {
		return p, fmt.Errorf("malformed SOURCERPM %q", h.SourceRPM)
	}
	p.SourceName, p.SourceVersion = name, ver
	return p, nil
}

// ParseSourceRPM splits "bash-5.1.8-6.el9.src.rpm" into "bash" and
// "5.1.8-6.el9", from the right, since names hold dashes and versions do
// not.
func ParseSourceRPM(s string) (name, version string, ok bool) {
	base, found := strings.CutSuffix(s, ".src.rpm")
	if !found {
		if base, found = strings.CutSuffix(s, ".nosrc.rpm"); !found {
			return "", "", false
		}
	}
	r := strings.LastIndexByte(base, '-')
	if r <= 0 || r == len(base)-1 {
		return "", "", false
	}
	v := strings.LastIndexByte(base[:r], '-')
	if v <= 0 || v == r-1 {
		return "", "", false
	}
	return base[:v], base[v+1:], true
}
