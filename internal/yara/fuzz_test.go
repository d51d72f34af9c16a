package yara

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func addRuleSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/diff/*.yar")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

// FuzzCompile checks that arbitrary rule text never panics the compiler, and that
// whatever compiles also scans without panicking.
func FuzzCompile(f *testing.F) {
	addRuleSeeds(f)
	f.Add(`rule r { strings: $a = { 41 ( 42 | [1-2] 43 ) } $b = /a{2,}?[^\x00-\x1f]\b/is condition: for any of them : ( @ > !a[1] ) }`)
	f.Add(`import "elf" rule r { condition: elf.sections[elf.number_of_sections - 1].name startswith ".t" }`)
	data := []byte("hello world \x7fELF\x02\x01\x01 aGVsbG8gd29ybGQ= h\x00e\x00l\x00l\x00o\x00")
	f.Fuzz(func(t *testing.T, src string) {
		r, _, err := Compile(CompileOptions{SkipUnsupported: true}, Source{Name: "fuzz.yar", Data: []byte(src)})
		if err != nil {
			if _, ok := err.(*CompileError); !ok { // internal errors (recovered panics) fail here
				t.Fatalf("error %v (%T) is not a *CompileError", err, err)
			}
			return
		}
		if _, err := r.Scan(data, ScanOptions{Timeout: 100 * time.Millisecond}); err != nil && err != ErrTimeout {
			t.Fatalf("scan: %v", err)
		}
	})
}

// FuzzScan runs every test rule file over arbitrary data (ELF-like seeds included), so
// the matchers and the elf/math/hash modules see malformed input.
func FuzzScan(f *testing.F) {
	files, _ := filepath.Glob("testdata/diff/*.yar")
	var srcs []Source
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		srcs = append(srcs, Source{Name: file, Data: b})
	}
	var rules []*Rules
	for _, s := range srcs {
		r, _, err := Compile(CompileOptions{}, s)
		if err != nil {
			f.Fatal(err)
		}
		rules = append(rules, r)
	}
	if elfBin, err := os.ReadFile("/usr/bin/true"); err == nil {
		f.Add(elfBin[:min(len(elfBin), 4096)])
	}
	f.Add([]byte("\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x03\x00\x01\x00\x00\x00\x54\x80\x04\x08\x34\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x34\x00\x20\x00\x01\x00\x28\x00\x00\x00\x00\x00"))
	f.Add([]byte("hello world secretpayload This program cannot aGVsbG8="))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range rules {
			if _, err := r.Scan(data, ScanOptions{Timeout: 500 * time.Millisecond}); err != nil && err != ErrTimeout {
				t.Fatalf("scan: %v", err)
			}
		}
	})
}
