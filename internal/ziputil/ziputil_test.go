package ziputil

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mkzip writes an archive with the named entries, each holding its name,
// and the archive comment.
func mkzip(t testing.TB, comment string, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.SetComment(comment); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// centralDir returns the real size of an archive's central directory, as
// archive/zip wrote it: from the first central header to the end record.
func centralDir(t testing.TB, data []byte) uint64 {
	t.Helper()
	start := bytes.Index(data, []byte("PK\x01\x02"))
	end := bytes.LastIndex(data, []byte("PK\x05\x06"))
	if start < 0 || end < start {
		t.Fatalf("no central directory in %d bytes", len(data))
	}
	return uint64(end - start)
}

// zip64 is an empty archive whose zip64 end records claim entries in a
// central directory of dirSize bytes. With brokenLoc the locator's
// signature is wrong; recAt is where the locator says the zip64 record is.
func zip64(entries, dirSize, recAt uint64, brokenLoc bool) []byte {
	var b bytes.Buffer
	rec := make([]byte, 56)
	copy(rec, "PK\x06\x06")
	binary.LittleEndian.PutUint64(rec[4:], 44)
	binary.LittleEndian.PutUint64(rec[24:], entries)
	binary.LittleEndian.PutUint64(rec[32:], entries)
	binary.LittleEndian.PutUint64(rec[40:], dirSize)
	b.Write(rec)
	loc := make([]byte, 20)
	copy(loc, "PK\x06\x07")
	if brokenLoc {
		copy(loc, "PK\x06\x08")
	}
	binary.LittleEndian.PutUint64(loc[8:], recAt)
	binary.LittleEndian.PutUint32(loc[16:], 1)
	b.Write(loc)
	eocd := make([]byte, 22)
	copy(eocd, "PK\x05\x06")
	binary.LittleEndian.PutUint16(eocd[8:], 0xffff)
	binary.LittleEndian.PutUint16(eocd[10:], 0xffff)
	binary.LittleEndian.PutUint32(eocd[12:], 0xffffffff)
	binary.LittleEndian.PutUint32(eocd[16:], 0xffffffff)
	b.Write(eocd)
	return b.Bytes()
}

func TestDirectorySize(t *testing.T) {
	three := mkzip(t, "", "META-INF/MANIFEST.MF", "a/B.class", "lib/x-1.jar")
	commented := mkzip(t, "built by PK\x05 tools", "a", "b")
	empty := mkzip(t, "")
	lie := zip64(10_000_000, 1<<30, 0, false)
	type result struct {
		Entries, DirSize uint64
		Err              error
	}
	tests := []struct {
		name string
		data []byte
		want result
	}{
		{name: "three_entries", data: three, want: result{3, centralDir(t, three), nil}},
		{name: "comment", data: commented, want: result{2, centralDir(t, commented), nil}},
		{name: "no_entries", data: empty, want: result{0, 0, nil}},
		{name: "zip64_claims", data: lie, want: result{10_000_000, 1 << 30, nil}},
		{name: "zip64_small", data: zip64(7, 300, 0, false), want: result{7, 300, nil}},
		{name: "zip64_no_locator", data: lie[56+20:], want: result{Err: zip.ErrFormat}},
		{name: "zip64_bad_locator", data: zip64(1, 1, 0, true), want: result{Err: zip.ErrFormat}},
		{name: "zip64_record_past_end", data: zip64(1, 1, 1<<40, false), want: result{Err: zip.ErrFormat}},
		{name: "zip64_record_not_there", data: zip64(1, 1, 8, false), want: result{Err: zip.ErrFormat}},
		{name: "truncated", data: three[:len(three)/2], want: result{Err: zip.ErrFormat}},
		{name: "end_record_cut", data: three[:len(three)-1], want: result{Err: zip.ErrFormat}},
		{name: "not_a_zip", data: []byte("#!/bin/sh\necho not a jar\n"), want: result{Err: zip.ErrFormat}},
		{name: "empty_file", data: nil, want: result{Err: zip.ErrFormat}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got result
			got.Entries, got.DirSize, got.Err = DirectorySize(bytes.NewReader(tc.data), int64(len(tc.data)))
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) })); diff != "" {
				t.Errorf("DirectorySize mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// failReader fails every read, as a file on a broken disk does.
type failReader struct{}

var errDisk = errors.New("input/output error")

func (failReader) ReadAt([]byte, int64) (int, error) { return 0, errDisk }

func TestDirectorySizeReadError(t *testing.T) {
	if _, _, err := DirectorySize(failReader{}, 100); !errors.Is(err, errDisk) {
		t.Errorf("DirectorySize error = %v, want %v", err, errDisk)
	}
}

func TestIsArchiveName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"log4j-core-2.14.1.jar", true},
		{"WEB-INF/lib/spring-core-5.3.9.jar", true},
		{"app.WAR", true},
		{"x.ear", true},
		{"plugins/git.hpi", true},
		{"bundle.zip", true},
		{"a.jpi", true},
		{"a.sar", true},
		{"a.par", true},
		{"a.rar", true},
		{"a.nar", true},
		{".jar", false},
		{"jar", false},
		{"a.jar.sha1", false},
		{"a.tar", false},
		{"META-INF/MANIFEST.MF", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsArchiveName(tc.name); got != tc.want {
				t.Errorf("IsArchiveName(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func FuzzDirectorySize(f *testing.F) {
	f.Add(mkzip(f, "", "META-INF/MANIFEST.MF", "a/B.class"))
	f.Add(mkzip(f, "comment PK\x05\x06", "a"))
	f.Add(zip64(10_000_000, 1<<30, 0, false))
	f.Add(zip64(1, 1, 1<<40, false))
	f.Add([]byte("PK\x05\x06"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, dirSize, err := DirectorySize(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			// A bytes.Reader never fails but at its end: every error
			// is the format one.
			if !errors.Is(err, zip.ErrFormat) {
				t.Fatalf("DirectorySize error = %v, want zip.ErrFormat", err)
			}
			if entries != 0 || dirSize != 0 {
				t.Fatalf("DirectorySize = %d, %d with error %v", entries, dirSize, err)
			}
			return
		}
		// Without zip64 records, the values are the 16- and 32-bit
		// fields of the last end record.
		if i := bytes.LastIndex(data, []byte("PK\x05\x06")); i < 0 {
			t.Fatalf("DirectorySize = %d, %d without an end record", entries, dirSize)
		} else if e := data[i:]; binary.LittleEndian.Uint16(e[10:]) != 0xffff && binary.LittleEndian.Uint32(e[12:]) != 0xffffffff &&
			(entries != uint64(binary.LittleEndian.Uint16(e[10:])) || dirSize != uint64(binary.LittleEndian.Uint32(e[12:]))) {
			t.Fatalf("DirectorySize = %d, %d, end record says %d, %d", entries, dirSize,
				binary.LittleEndian.Uint16(e[10:]), binary.LittleEndian.Uint32(e[12:]))
		}
	})
}
