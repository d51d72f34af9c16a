package ransom

import (
	"archive/zip"
	"bytes"
	"crypto/rand"
	"image/jpeg"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestEntropy(t *testing.T) {
	if got := Entropy(bytes.Repeat([]byte{'a'}, 1000)); got != 0 {
		t.Errorf("constant: %v, want 0", got)
	}
	all := make([]byte, 256*16)
	for i := range all {
		all[i] = byte(i)
	}
	if got := Entropy(all); math.Abs(got-8) > 1e-9 {
		t.Errorf("uniform: %v, want 8", got)
	}
}

func TestJudge(t *testing.T) {
	random := make([]byte, 4096)
	rand.Read(random)
	text := []byte(strings.Repeat("The quarterly revenue forecast was approved by the board. ", 80))
	docx, err := DecoyContent("a.docx")
	if err != nil {
		t.Fatal(err)
	}
	small := make([]byte, 300)
	rand.Read(small)
	for _, tc := range []struct {
		name   string
		sample []byte
		names  []string
		want   bool
	}{
		{"random_txt", random, []string{"notes.txt.locked", "notes.txt"}, true},
		{"random_short", small, []string{"a.txt"}, true},
		{"tiny_random_not_judged", random[:100], []string{"a.txt"}, false},
		{"text", text, []string{"notes.txt"}, false},
		{"docx_kept_format", docx, []string{"a.docx"}, false},
		{"gzip_magic", append([]byte{0x1f, 0x8b}, random[2:]...), []string{"app.log.gz", "app.log"}, false},
		{"zip_magic_as_docx_renamed_locked", append([]byte("PK\x03\x04"), random[4:]...), []string{"a.docx.locked", "a.docx"}, false},
		{"random_with_pdf_ext", random, []string{"a.pdf"}, true},
		{"forged_jpeg_header_in_docx", append([]byte{0xff, 0xd8, 0xff}, random[3:]...), []string{"a.docx"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.sample, DefaultEntropyMin, nil, tc.names...)
			if v.Encrypted != tc.want {
				t.Errorf("Judge = %+v, want encrypted=%v", v, tc.want)
			}
		})
	}
}

func TestDecoyContentValid(t *testing.T) {
	for _, name := range []string{"!0000_Budget_2026.docx", "~zzzz_Payroll_archive.xlsx", ".~clients_0042.pdf", "x.jpg", "y.txt"} {
		b, err := DecoyContent(name)
		if err != nil {
			t.Fatal(err)
		}
		switch ext := name[strings.LastIndexByte(name, '.'):]; ext {
		case ".docx", ".xlsx":
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var names []string
			for _, f := range zr.File {
				names = append(names, f.Name)
			}
			if !slices.Contains(names, "[Content_Types].xml") {
				t.Errorf("%s: no [Content_Types].xml in %v", name, names)
			}
		case ".pdf":
			if !bytes.HasPrefix(b, []byte("%PDF-1.4")) || !bytes.HasSuffix(b, []byte("%%EOF\n")) {
				t.Errorf("%s: not a PDF", name)
			}
		case ".jpg":
			if _, err := jpeg.Decode(bytes.NewReader(b)); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if v := Judge(b, DefaultEntropyMin, nil, name); v.Encrypted || v.Mismatch {
			t.Errorf("%s: decoy judged %+v", name, v)
		}
		b2, _ := DecoyContent(name)
		if !bytes.Equal(b, b2) {
			t.Errorf("%s: content not deterministic", name)
		}
	}
}

// TestDecoyNamesSort: the first decoy sorts before, the last after,
// ordinary names in byte order.
func TestDecoyNamesSort(t *testing.T) {
	first, last, hidden := decoyNames("/srv/share", 4)
	names := []string{"0001.txt", "Accounts.xlsx", "report.docx", "zz_top.pdf", "~$lock.docx", first, last}
	sort.Strings(names)
	if names[0] != first || names[len(names)-1] != last {
		t.Errorf("sorted %q: want %q first and %q last", names, first, last)
	}
	if len(hidden) != 4 {
		t.Errorf("hidden %q", hidden)
	}
	for _, h := range hidden {
		if !strings.HasPrefix(h, ".") {
			t.Errorf("hidden decoy %q is not a dot file", h)
		}
	}
}

func TestParseSyscall(t *testing.T) {
	nr, args, ok := ParseSyscall([]byte("257 0xffffffffffffff9c 0x7ffd1c2a 0x241 0x1b6 0x0 0x0 0x7ffd1c20 0x7f001234\n"))
	if !ok || nr != unix.SYS_OPENAT || args[2] != 0x241 || args[0] != 0xffffffffffffff9c {
		t.Errorf("got %d %x %v", nr, args, ok)
	}
	for _, s := range []string{"running", "-1 0x7ffd 0x1", "", "257 zz 0 0 0 0 0"} {
		if _, _, ok := ParseSyscall([]byte(s)); ok {
			t.Errorf("%q parsed", s)
		}
	}
}

func FuzzJudge(f *testing.F) {
	f.Add([]byte("PK\x03\x04rest"), "a.docx", "a.docx.locked")
	f.Add(bytes.Repeat([]byte{0xff}, 600), "", ".pdf")
	f.Fuzz(func(t *testing.T, b []byte, n1, n2 string) {
		v := Judge(b, DefaultEntropyMin, b, n1, n2)
		if v.Entropy < 0 || v.Entropy > 8.0000001 || math.IsNaN(v.Entropy) {
			t.Fatalf("entropy %v", v.Entropy)
		}
		if v.Encrypted && len(b) < minSample {
			t.Fatalf("judged %d bytes encrypted", len(b))
		}
	})
}

func FuzzParseSyscall(f *testing.F) {
	f.Add([]byte("257 0xffffffffffffff9c 0x7ffd1c2a 0x241 0x1b6 0x0 0x0 0x7ffd1c20 0x7f001234"))
	f.Add([]byte("running"))
	f.Fuzz(func(t *testing.T, b []byte) {
		nr, _, ok := ParseSyscall(b)
		if ok && nr < 0 {
			t.Fatalf("negative syscall %d accepted", nr)
		}
	})
}

func FuzzDecoyNames(f *testing.F) {
	f.Add("/srv/share")
	f.Add("")
	f.Fuzz(func(t *testing.T, dir string) {
		first, last, hidden := decoyNames(dir, 3)
		for _, n := range append([]string{first, last}, hidden...) {
			if strings.ContainsAny(n, "/\x00") || n == "" {
				t.Fatalf("bad decoy name %q", n)
			}
			if _, err := DecoyContent(n); err != nil {
				t.Fatal(err)
			}
		}
		if first >= last {
			t.Fatalf("%q does not sort before %q", first, last)
		}
	})
}
