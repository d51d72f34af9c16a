package rpmfmt

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
)

func TestParseSourceRPM(t *testing.T) {
	tests := []struct {
		in, name, version string
		ok                bool
	}{
		{in: "bash-5.1.8-6.el9.src.rpm", name: "bash", version: "5.1.8-6.el9", ok: true},
		{in: "python-dateutil-2.8.1-6.el9.src.rpm", name: "python-dateutil", version: "2.8.1-6.el9", ok: true},
		{in: "kernel-5.14.0-362.8.1.el9_3.nosrc.rpm", name: "kernel", version: "5.14.0-362.8.1.el9_3", ok: true},
		{in: "a-1-2.src.rpm", name: "a", version: "1-2", ok: true},
		{in: "bash-5.1.8.src.rpm"},
		{in: "bash-5.1.8-6.el9.rpm"},
		{in: "-1-2.src.rpm"},
		{in: "a--2.src.rpm"},
		{in: "a-1-.src.rpm"},
		{in: ".src.rpm"},
	}
	for _, tc := range tests {
		name, version, ok := ParseSourceRPM(tc.in)
		if name != tc.name || version != tc.version || ok != tc.ok {
			t.Errorf("parseSourceRPM(%q) = %q, %q, %v; want %q, %q, %v", tc.in, name, version, ok, tc.name, tc.version, tc.ok)
		}
	}
}

// entry is one index entry for buildHeader.
type entry struct {
	tag, typ uint32
	data     []byte
	count    uint32
}

func str(tag uint32, s string) entry {
	return entry{tag: tag, typ: typeString, data: append([]byte(s), 0), count: 1}
}

func i32(tag uint32, v int32) entry {
	return entry{tag: tag, typ: typeInt32, data: binary.BigEndian.AppendUint32(nil, uint32(v)), count: 1}
}

// buildHeader lays entries out as an rpm header blob.
func buildHeader(entries ...entry) []byte {
	var index, data []byte
	for _, e := range entries {
		for e.typ == typeInt32 && len(data)%4 != 0 {
			data = append(data, 0)
		}
		index = binary.BigEndian.AppendUint32(index, e.tag)
		index = binary.BigEndian.AppendUint32(index, e.typ)
		index = binary.BigEndian.AppendUint32(index, uint32(len(data)))
		index = binary.BigEndian.AppendUint32(index, e.count)
		data = append(data, e.data...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(entries)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(append(b, index...), data...)
}

func TestParseHeader(t *testing.T) {
	intp := func(v int) *int { return &v }
	full := buildHeader(str(tagName, "bash"), i32(tagEpoch, 1), str(tagVersion, "5.1.8"), str(tagRelease, "6.el9"),
		str(tagArch, "x86_64"), str(tagSourceRPM, "bash-5.1.8-6.el9.src.rpm"), str(tagVendor, "Rocky Enterprise Software Foundation"),
		str(tagPackager, "Release Engineering <releng@rockylinux.org>"))
	tests := []struct {
		name    string
		blob    []byte
		want    *Header
		wantErr string
	}{
		{
			name: "all_tags",
			blob: full,
			want: &Header{Name: "bash", Epoch: intp(1), Version: "5.1.8", Release: "6.el9", Arch: "x86_64",
				SourceRPM: "bash-5.1.8-6.el9.src.rpm", Vendor: "Rocky Enterprise Software Foundation",
				Packager: "Release Engineering <releng@rockylinux.org>"},
		},
		{
			name: "last_entry_wins",
			blob: buildHeader(str(tagName, "old"), str(tagName, "new"), str(1004, "summary is ignored")),
			want: &Header{Name: "new"},
		},
		{name: "too_short", blob: []byte{0, 0, 0, 1}, wantErr: "too short"},
		{name: "no_entries", blob: buildHeader(), wantErr: "bad header sizes"},
		{name: "truncated", blob: full[:len(full)-3], wantErr: "shorter than"},
		{name: "no_name", blob: buildHeader(str(tagVersion, "1")), wantErr: "no NAME"},
		{name: "unterminated", blob: buildHeader(entry{tag: tagName, typ: typeString, data: []byte("bash"), count: 1}), wantErr: "not terminated"},
		{name: "epoch_wrong_type", blob: buildHeader(str(tagName, "a"), str(tagEpoch, "1")), wantErr: "bad EPOCH"},
		{name: "name_wrong_type", blob: buildHeader(i32(tagName, 7)), wantErr: "bad string entry"},
		{name: "huge_counts", blob: []byte{0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, wantErr: "bad header sizes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseHeader(tc.blob)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseHeader: err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHeader: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeaderPkg(t *testing.T) {
	zero, two := 0, 2
	tests := []struct {
		name    string
		h       Header
		want    inventory.Package
		wantErr bool
	}{
		{
			name: "epoch_and_vendor",
			h:    Header{Name: "vim-minimal", Epoch: &two, Version: "8.2.2637", Release: "20.el9_1", Arch: "x86_64", SourceRPM: "vim-8.2.2637-20.el9_1.src.rpm", Vendor: "Red Hat, Inc.", Packager: "Red Hat, Inc. <http://bugzilla.redhat.com/bugzilla>"},
			want: inventory.Package{Name: "vim-minimal", Version: "2:8.2.2637-20.el9_1", SourceName: "vim", SourceVersion: "8.2.2637-20.el9_1", Arch: "x86_64", Type: "rpm", Source: "/s", Maintainer: "Red Hat, Inc."},
		},
		{
			name: "zero_epoch_packager",
			h:    Header{Name: "a", Epoch: &zero, Version: "1", Release: "2", Arch: "noarch", SourceRPM: "(none)", Packager: "P <p@example.com>"},
			want: inventory.Package{Name: "a", Version: "1-2", SourceName: "a", SourceVersion: "1-2", Arch: "noarch", Type: "rpm", Source: "/s", Maintainer: "P <p@example.com>"},
		},
		{
			name:    "bad_sourcerpm_still_reported",
			h:       Header{Name: "a", Version: "1", Release: "2", SourceRPM: "garbage"},
			want:    inventory.Package{Name: "a", Version: "1-2", SourceName: "a", SourceVersion: "1-2", Type: "rpm", Source: "/s"},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.h.Package("/s")
			if (err != nil) != tc.wantErr {
				t.Errorf("pkg: err = %v, want error %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("package (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseHeader feeds header blobs.
func FuzzParseHeader(f *testing.F) {
	f.Add(buildHeader(str(tagName, "a"), i32(tagEpoch, 3), str(tagSourceRPM, "a-1-2.src.rpm")))
	// testdata/fuzz/FuzzParseHeader holds the real headers of the rpm
	// extractor's rpmdb.sqlite fixture.
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err != nil {
			if h != nil {
				t.Fatalf("header %+v returned with error %v", h, err)
			}
			return
		}
		if h.Name == "" {
			t.Fatal("header without a name accepted")
		}
		p, _ := h.Package("/x")
		if p.Name != h.Name || p.SourceName == "" || p.Type != "rpm" || !strings.Contains(p.Version, h.Version) {
			t.Fatalf("package %+v from header %+v", p, h)
		}
	})
}

// FuzzReadBackends feeds the bdb and ndb readers, which must return (an
// error) rather than panic, loop or allocate past the input.
func FuzzReadBackends(f *testing.F) {
	f.Add(make([]byte, 600), false)
	seed := make([]byte, 3*512)
	binary.LittleEndian.PutUint32(seed[12:], bdbHashMagic)
	binary.LittleEndian.PutUint32(seed[20:], 512)
	seed[25] = bdbMetaPage
	binary.LittleEndian.PutUint32(seed[32:], 2)
	seed[512+25] = bdbHashPage
	f.Add(seed, false)
	nd := make([]byte, 4096+64)
	binary.LittleEndian.PutUint32(nd, ndbHeaderMagic)
	binary.LittleEndian.PutUint32(nd[12:], 1)
	for i := 32; i < 4096; i += 16 {
		binary.LittleEndian.PutUint32(nd[i:], ndbSlotMagic)
	}
	f.Add(nd, true)
	f.Fuzz(func(t *testing.T, b []byte, asNDB bool) {
		// A blob is a copy of bytes of the input: never longer.
		fn := func(blob []byte) {
			if len(blob) > len(b) {
				t.Fatalf("%d-byte blob from %d bytes of input", len(blob), len(b))
			}
		}
		r := bytes.NewReader(b)
		var err error
		if asNDB {
			err = ReadNDB(context.Background(), r, int64(len(b)), fn)
		} else {
			err = ReadBDB(context.Background(), r, int64(len(b)), fn)
		}
		if err == nil && len(b) < 512 {
			t.Fatalf("%d bytes accepted as a database", len(b))
		}
	})
}
