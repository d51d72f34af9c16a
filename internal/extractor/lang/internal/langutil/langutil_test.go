package langutil

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/extractor"
)

func TestReadAll(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int64
		tooLong bool
	}{
		{name: "under", in: "abc", max: 4},
		{name: "exact", in: "abcd", max: 4},
		{name: "over", in: "abcde", max: 4, tooLong: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ReadAll(strings.NewReader(tc.in), tc.max)
			if tc.tooLong {
				if !errors.Is(err, ErrTooLarge) || b != nil {
					t.Errorf("ReadAll = %q, %v; want ErrTooLarge", b, err)
				}
				return
			}
			if err != nil || string(b) != tc.in {
				t.Errorf("ReadAll = %q, %v; want %q", b, err, tc.in)
			}
		})
	}
}

func TestReaderAt(t *testing.T) {
	dir := t.TempDir()
	data := []byte("0123456789")
	if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() (*os.File, fs.FileInfo) {
		f, err := os.Open(filepath.Join(dir, "f"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		info, _ := f.Stat()
		return f, info
	}
	f1, info := open()
	f2, _ := open()
	tests := []struct {
		name string
		in   *extractor.ScanInput
		max  int64
		err  bool
	}{
		{name: "reader_at", in: &extractor.ScanInput{Path: "f", Info: info, Reader: f1}, max: 100},
		{name: "root_path", in: &extractor.ScanInput{Path: "f", RootPath: dir, Reader: strings.NewReader("unused")}, max: 100},
		{name: "spooled", in: &extractor.ScanInput{Path: "f", Reader: struct{ io.Reader }{bytes.NewReader(data)}}, max: 100},
		{name: "info_too_large", in: &extractor.ScanInput{Path: "f", Info: info, Reader: f2}, max: 5, err: true},
		{name: "stream_too_large", in: &extractor.ScanInput{Path: "f", Reader: struct{ io.Reader }{bytes.NewReader(data)}}, max: 5, err: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ra, size, closeFn, err := ReaderAt(tc.in, tc.max)
			defer closeFn()
			if tc.err {
				if !errors.Is(err, ErrTooLarge) {
					t.Errorf("ReaderAt error = %v, want ErrTooLarge", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make([]byte, size)
			if _, err := ra.ReadAt(got, 0); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("read %q, want %q", got, data)
			}
		})
	}
}

func TestPURL(t *testing.T) {
	for _, tc := range []struct{ typ, ns, name, version, want string }{
		{"golang", "github.com/BurntSushi", "toml", "1.2.1", "pkg:golang/github.com/BurntSushi/toml@1.2.1"},
		{"maven", "org.apache.logging.log4j", "log4j-core", "2.14.1", "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
		{"pypi", "", "zope-interface", "5.4.0", "pkg:pypi/zope-interface@5.4.0"},
		{"pypi", "", "a", "1.0+local!x", "pkg:pypi/a@1.0%2Blocal%21x"},
	} {
		if got := PURL(tc.typ, tc.ns, tc.name, tc.version); got != tc.want {
			t.Errorf("PURL(%q, %q, %q, %q) = %q, want %q", tc.typ, tc.ns, tc.name, tc.version, got, tc.want)
		}
	}
}
