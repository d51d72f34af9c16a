package apk

import (
	"bufio"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestFileRequired(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{path: "lib/apk/db/installed", want: true},
		{path: "lib/apk/db/triggers"},
		{path: "lib/apk/db/installed.new"},
		{path: "/lib/apk/db/installed"},
		{path: "usr/lib/apk/db/installed"},
	}
	for _, tc := range tests {
		if got := New().FileRequired(tc.path, nil); got != tc.want {
			t.Errorf("FileRequired(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func apk(name, version, origin, arch, maintainer string) inventory.Package {
	return inventory.Package{
		Name: name, Version: version, SourceName: origin, SourceVersion: version,
		Arch: arch, Type: "apk", Source: "/lib/apk/db/installed", Maintainer: maintainer,
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []inventory.Package
		problems []string
		stats    Stats
	}{
		{
			name:  "origin_absent_is_own_source",
			in:    "P:foo\nV:1.0-r0\nA:aarch64\n",
			want:  []inventory.Package{apk("foo", "1.0-r0", "foo", "aarch64", "")},
			stats: Stats{Records: 1, Packages: 1},
		},
		{
			name: "malformed_records",
			in: "V:1.0-r0\nA:x86_64\n\n" + // line 1: no P
				"P:ok\nV:2-r1\no:okorigin\n\n" + // line 4
				"P:nover\nA:x86_64\n\n" + // line 8: no V
				"P:junk\nV:1\nthis is not a field\n\n" + // line 11, bad line 13
				"P:last\r\nV:3-r0\r\nm:Me <me@example.org>\r\n", // line 15
			want: []inventory.Package{
				apk("ok", "2-r1", "okorigin", "", ""),
				apk("last", "3-r0", "last", "", "Me <me@example.org>"),
			},
			problems: []string{
				"lib/apk/db/installed:1: record has no P (name) field",
				`lib/apk/db/installed:8: package "nover" has no V (version) field`,
				`lib/apk/db/installed:13: line is not a "K:value" pair`,
			},
			stats: Stats{Records: 5, Packages: 2, Malformed: 3},
		},
		{
			name:  "blank_runs_and_empty_values",
			in:    "\n\n \nP:a\nV:1\nA:\n\n\n\nP:b\nV:2\n\n",
			want:  []inventory.Package{apk("a", "1", "a", "", ""), apk("b", "2", "b", "", "")},
			stats: Stats{Records: 2, Packages: 2},
		},
		{name: "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []inventory.Package
			var problems plugin.Problems
			stats, err := Parse(context.Background(), strings.NewReader(tc.in), InstalledPath, func(p inventory.Package) {
				got = append(got, p)
			}, &problems)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.problems, problemList(problems.Err())); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stats, stats); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func problemList(err error) []string {
	var pe *plugin.PartialError
	if errors.As(err, &pe) {
		return pe.Problems
	}
	if err != nil {
		return []string{"not a partial error: " + err.Error()}
	}
	return nil
}

// TestExtractAlpine reads an installed database as Alpine 3.19 writes it.
func TestExtractAlpine(t *testing.T) {
	f, err := os.Open("testdata/installed")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{Path: InstalledPath, Reader: f})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	ncopa := "Natanael Copa <ncopa@alpinelinux.org>"
	soeren := "Sören Tempel <soeren+alpine@soeren-tempel.net>"
	want := []inventory.Package{
		apk("alpine-baselayout-data", "3.4.3-r2", "alpine-baselayout", "x86_64", ncopa),
		apk("musl", "1.2.4_git20230717-r4", "musl", "x86_64", "Timo Teräs <timo.teras@iki.fi>"),
		apk("busybox", "1.36.1-r15", "busybox", "x86_64", soeren),
		apk("libcrypto3", "3.1.4-r5", "openssl", "x86_64", "Ariadne Conill <ariadne@dereferenced.org>"),
		apk("ssl_client", "1.36.1-r15", "busybox", "x86_64", soeren),
		apk("zlib", "1.3.1-r0", "zlib", "x86_64", ncopa),
	}
	if diff := cmp.Diff(want, inv.Packages); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestExtractLongLine(t *testing.T) {
	in := "P:a\nV:1\n\nP:b\nT:" + strings.Repeat("x", maxLine+1) + "\n"
	inv, err := New().Extract(context.Background(), &extractor.ScanInput{Path: InstalledPath, Reader: strings.NewReader(in)})
	if diff := cmp.Diff([]string{"lib/apk/db/installed:5: bufio.Scanner: token too long"}, problemList(err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if inv == nil || len(inv.Packages) != 1 {
		t.Errorf("inventory = %+v, want package a only", inv)
	}
}

func TestExtractCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := strings.Repeat("P:a\nV:1\n\n", 2*ctxEvery)
	if _, err := New().Extract(ctx, &extractor.ScanInput{Path: InstalledPath, Reader: strings.NewReader(in)}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/installed"); err == nil {
		f.Add(string(b))
	}
	f.Add("P:a\nV:1\n\nbad\n\n\r\nV:2\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		var got []inventory.Package
		var problems plugin.Problems
		stats, err := Parse(context.Background(), strings.NewReader(in), InstalledPath, func(p inventory.Package) {
			got = append(got, p)
		}, &problems)
		if err != nil {
			if !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("Parse: unexpected error %v", err)
			}
			return
		}
		// Records are runs of non-blank lines.
		records, inRec := 0, false
		for _, l := range strings.Split(in, "\n") {
			blank := strings.TrimSpace(l) == ""
			if !blank && !inRec {
				records++
			}
			inRec = !blank
		}
		if stats.Records != records || stats.Packages+stats.Malformed != records || len(got) != stats.Packages {
			t.Errorf("stats %+v, %d packages emitted, %d records in input", stats, len(got), records)
		}
		if min(problems.Len(), 100) != min(stats.Malformed, 100) {
			t.Errorf("%d problems for %d malformed records", problems.Len(), stats.Malformed)
		}
		for _, p := range got {
			if p.Name == "" || p.Version == "" || p.SourceName == "" || p.Type != "apk" ||
				!strings.Contains(in, "P:"+p.Name) || !strings.Contains(in, "V:"+p.Version) {
				t.Errorf("bad package %+v", p)
			}
		}
	})
}
