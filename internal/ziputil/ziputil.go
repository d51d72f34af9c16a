// Package ziputil holds what the readers of untrusted zip archives (Java
// archives and the archives nested in them) share: which entry names are
// archives, and the size of an archive's central directory, read before
// archive/zip allocates for it.
package ziputil

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"io"
	"strings"
)

// ArchiveExts are the extensions of the zip-based Java archives looked
// into, at the top level and nested in another archive.
var ArchiveExts = []string{".jar", ".war", ".ear", ".zip", ".jpi", ".hpi", ".sar", ".par", ".rar", ".nar"}

// IsArchiveName reports whether a file or entry name ends, in any case,
// with one of ArchiveExts and has at least one byte before it.
func IsArchiveName(name string) bool {
	if len(name) < 5 {
		return false
	}
	ext := strings.ToLower(name[len(name)-4:])
	for _, e := range ArchiveExts {
		if ext == e {
			return true
		}
	}
	return false
}

// DirectorySize reads the entry count and central directory size that the
// end of central directory record claims (the zip64 end record's when the
// 32-bit record defers to it), so that a caller can reject an archive
// before zip.NewReader allocates for its directory. An archive whose end
// record (or announced zip64 records) cannot be found gives
// zip.ErrFormat.
func DirectorySize(ra io.ReaderAt, size int64) (entries, dirSize uint64, err error) {
	const eocdLen, maxComment = 22, 65535
	tail := min(size, eocdLen+maxComment)
	buf := make([]byte, tail)
	if _, err := ra.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return 0, 0, err
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < eocdLen {
		return 0, 0, zip.ErrFormat
	}
	e := buf[i:]
	entries = uint64(binary.LittleEndian.Uint16(e[10:]))
	dirSize = uint64(binary.LittleEndian.Uint32(e[12:]))
	if entries != 0xffff && dirSize != 0xffffffff {
		return entries, dirSize, nil
	}
	// Zip64: a locator precedes the end record and points at the zip64
	// end record.
	locAt := size - tail + int64(i) - 20
	if locAt < 0 {
		return 0, 0, zip.ErrFormat
	}
	var loc [20]byte
	if _, err := ra.ReadAt(loc[:], locAt); err != nil || string(loc[:4]) != "PK\x06\x07" {
		return 0, 0, zip.ErrFormat
	}
	recAt := binary.LittleEndian.Uint64(loc[8:])
	var rec [56]byte
	if recAt > uint64(size) {
		return 0, 0, zip.ErrFormat
	}
	if _, err := ra.ReadAt(rec[:], int64(recAt)); err != nil || string(rec[:4]) != "PK\x06\x06" {
		return 0, 0, zip.ErrFormat
	}
	return binary.LittleEndian.Uint64(rec[32:]), binary.LittleEndian.Uint64(rec[40:]), nil
}
