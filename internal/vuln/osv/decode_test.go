package osv

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDecodeYAML(t *testing.T) {
	var rec []byte
	for _, f := range txtarFiles(t, "pypi-records.txtar") {
		if strings.HasSuffix(f.Name, "PYSEC-2019-213.yaml") {
			rec = f.Data
		}
	}
	got, err := DecodeYAML(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := &Vulnerability{
		ID:        "PYSEC-2019-213",
		Modified:  time.Date(2021, 8, 27, 3, 22, 49, 773623000, time.UTC),
		Published: time.Date(2019, 10, 21, 23, 15, 0, 0, time.UTC),
		Aliases:   []string{"CVE-2019-17400", "GHSA-27p5-7cw6-m45h"},
		Details:   "The unoconv package before 0.9 mishandles untrusted pathnames, leading to SSRF and local file inclusion.",
		Affected: []Affected{{
			Package:  Package{Ecosystem: "PyPI", Name: "unoconv", PURL: "pkg:pypi/unoconv"},
			Ranges:   []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: "0.9.0"}}}},
			Versions: []string{"0.6", "0.8.2"},
		}},
		References: []Reference{
			{Type: "WEB", URL: "https://github.com/unoconv/unoconv/pull/510"},
			{Type: "WEB", URL: "https://buer.haus/2019/10/18/a-tale-of-exploitation-in-spreadsheet-file-conversions/"},
			{Type: "ADVISORY", URL: "https://github.com/advisories/GHSA-27p5-7cw6-m45h"},
		},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("DecodeYAML (-want +got):\n%s", diff)
	}
}

func TestDecodeYAMLScalars(t *testing.T) {
	in := `id: X-1
modified: 2023-07-25T16:31:58.309647Z
published: 2023-03-31
affected:
- package: {ecosystem: PyPI, name: p}
  ranges:
  - type: ECOSYSTEM
    events:
    - introduced: 0
    - fixed: 1.10
    - introduced: 2.0
    - last_affected: 3
  versions: [1.0, 1.10, 0x1F, true, null]
  ecosystem_specific: {count: 3, ratio: 1.5, ok: true, none: null, when: 2023-03-31}
`
	got, err := DecodeYAML([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Affected{{
		Package:           Package{Ecosystem: "PyPI", Name: "p"},
		Ranges:            []Range{{Type: "ECOSYSTEM", Events: []Event{{Introduced: "0"}, {Fixed: "1.10"}, {Introduced: "2.0"}, {LastAffected: "3"}}}},
		Versions:          []string{"1.0", "1.10", "0x1F", "true", ""}, // null is YAML's null
		EcosystemSpecific: map[string]any{"count": float64(3), "ratio": 1.5, "ok": true, "none": nil, "when": "2023-03-31T00:00:00Z"},
	}}
	if diff := cmp.Diff(want, got.Affected); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
	if !got.Published.Equal(time.Date(2023, 3, 31, 0, 0, 0, 0, time.UTC)) || got.Modified.Nanosecond() != 309647000 {
		t.Errorf("times: published %v modified %v", got.Published, got.Modified)
	}
}

func TestDecodeErrors(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 'b'; i <= 'h'; i++ {
		bomb += string(i) + ": &" + string(i) + " [" + strings.Repeat("*"+string(i-1)+", ", 9) + "*" + string(i-1) + "]\n"
	}
	bomb += "id: X\n"
	for _, tc := range []struct {
		name, in string
		yaml     bool
		want     string
	}{
		{name: "json_truncated", in: `{"id": "GO-1", "affected": [`, want: "unexpected end of JSON input"},
		{name: "json_no_id", in: `{"summary": "x"}`, want: "record has no id"},
		{name: "json_bad_id", in: `{"id": "GO 1"}`, want: `id "GO 1": not a valid OSV ID`},
		{name: "json_wrong_type", in: `{"id": "GO-1", "affected": [{"ranges": [{"events": [{"introduced": 0}]}]}]}`, want: "cannot unmarshal number"},
		{name: "json_trailing", in: `{"id": "GO-1"} {}`, want: "invalid character '{' after top-level value"},
		{name: "json_bad_time", in: `{"id": "GO-1", "modified": "yesterday"}`, want: "cannot parse"},
		{name: "yaml_not_mapping", in: "- id: X\n", yaml: true, want: "record is not a YAML mapping"},
		{name: "yaml_syntax", in: "id: [X\n", yaml: true, want: "yaml: line"},
		{name: "yaml_alias_bomb", in: bomb, yaml: true, want: "too many nodes"},
		{name: "yaml_recursive_alias", in: "a: &a [x, *a]\nid: X\n", yaml: true, want: "nested more than 32 levels"},
		{name: "yaml_merge", in: "base: &b {id: X}\n<<: *b\n", yaml: true, want: "merge keys are not supported"},
		{name: "yaml_duplicate_key", in: "id: X\nid: Y\n", yaml: true, want: `duplicate key "id"`},
		{name: "yaml_empty", in: "", yaml: true, want: "empty yaml document"},
		{name: "yaml_bad_timestamp_type", in: "id: X\nmodified: [1]\n", yaml: true, want: "input is not a JSON string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.yaml {
				_, err = DecodeYAML([]byte(tc.in))
			} else {
				_, err = DecodeJSON([]byte(tc.in))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ eco, in, want string }{
		{"PyPI", "oslo.middleware", "oslo-middleware"},
		{"PyPI", "Oslo__Middleware", "oslo-middleware"},
		{"PyPI", "PyYAML", "pyyaml"},
		{"PyPI", "-x_", "-x-"},
		{"NuGet", "Newtonsoft.Json", "newtonsoft.json"},
		{"Packagist", "Symfony/Http-Kernel", "symfony/http-kernel"},
		{"Go", "github.com/BurntSushi/toml", "github.com/BurntSushi/toml"},
		{"Maven", "org.apache.logging.log4j:log4j-core", "org.apache.logging.log4j:log4j-core"},
		{"Debian", "openssl", "openssl"},
	} {
		t.Run(tc.eco+"_"+tc.in, func(t *testing.T) {
			if got := NormalizeName(tc.eco, tc.in); got != tc.want {
				t.Errorf("NormalizeName(%q, %q) = %q, want %q", tc.eco, tc.in, got, tc.want)
			}
		})
	}
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"Go":             "Go.osvidx",
		"crates.io":      "crates.io.osvidx",
		"GitHub Actions": "GitHub%20Actions.osvidx",
		"..":             "%2E..osvidx",
		"a/../b":         "a%2F..%2Fb.osvidx",
		"Ubuntu":         "Ubuntu.osvidx",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCodecCorrupt(t *testing.T) {
	a := &Affected{Package: Package{Ecosystem: "Go", Name: "stdlib"}, Ranges: []Range{{Type: "SEMVER", Events: []Event{{Introduced: "0"}, {Fixed: "1.21.3"}}}}}
	b, err := encodeAffected(a)
	if err != nil {
		t.Fatal(err)
	}
	for i := range len(b) {
		var got Affected
		if err := decodeAffected(b[:i], &got); err == nil {
			t.Errorf("truncated to %d of %d bytes: no error", i, len(b))
		}
	}
	var got Affected
	if err := decodeAffected(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, &got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, r := range txtarFiles(f, "go-records.txtar") {
		f.Add(r.Data)
	}
	f.Add([]byte(`{"id":"X","affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},"versions":["1:3.0.11-1~deb12u2"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeJSON(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, v)
	})
}

func FuzzDecodeYAML(f *testing.F) {
	for _, r := range txtarFiles(f, "pypi-records.txtar") {
		f.Add(r.Data)
	}
	f.Add([]byte("id: X\naffected:\n- package: {ecosystem: PyPI, name: a.b}\n  ecosystem_specific: {n: .inf, m: 1e400}\n"))
	f.Add([]byte("a: &a [x, *a]\nid: X\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := DecodeYAML(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, v)
	})
}

// checkRoundTrip asserts what the index relies on: a decoded record has
// an ID, and its compact form decodes back to the same values.
func checkRoundTrip(t *testing.T, v *Vulnerability) {
	t.Helper()
	if v.ID == "" {
		t.Fatal("decoded record without ID")
	}
	c, err := compact(v, "")
	if err != nil {
		return // e.g. an unprintable ecosystem name: reported as a record error
	}
	var h Vulnerability
	if err := decodeHeader(c.hdr, &h); err != nil {
		t.Fatalf("decodeHeader: %v", err)
	}
	if h.ID != v.ID || len(h.Aliases) != len(v.Aliases) || !h.Modified.Equal(v.Modified) || !h.Withdrawn.Equal(v.Withdrawn) {
		t.Fatalf("header round trip: got %+v from %+v", h, v)
	}
	n := 0
	for i := range v.Affected {
		if v.Affected[i].Package.Ecosystem == "" || v.Affected[i].Package.Name == "" {
			continue
		}
		var a Affected
		if err := decodeAffected(c.affs[n].data, &a); err != nil {
			t.Fatalf("decodeAffected: %v", err)
		}
		if diff := cmp.Diff(v.Affected[i].Ranges, a.Ranges, cmpopts.EquateEmpty()); diff != "" || a.Package != v.Affected[i].Package {
			t.Fatalf("affected round trip (-want +got):\n%s", diff)
		}
		n++
	}
	if n != len(c.affs) {
		t.Fatalf("%d affected entries indexed, want %d", len(c.affs), n)
	}
}

func FuzzIndex(f *testing.F) {
	b := newIndexBuilder()
	b.addRecord(&indexRecord{id: "GO-1", hdr: encodeHeader(&Vulnerability{ID: "GO-1", Aliases: []string{"CVE-2024-1"}})})
	a, _ := encodeAffected(&Affected{Package: Package{Ecosystem: "Go", Name: "stdlib"}})
	b.addEntry("stdlib", "GO-1", a)
	var buf strings.Builder
	if err := b.write(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(buf.String()), "stdlib")
	f.Fuzz(func(t *testing.T, data []byte, key string) {
		x, err := parseIndex(data)
		if err != nil {
			return
		}
		// Nothing in a corrupt index may panic; errors are fine.
		if v, ok, err := x.find(x.pkgs, x.npkg, key); err == nil && ok {
			if groups, err := decodeGroups(v); err == nil {
				for _, g := range groups {
					if _, hdr, err := x.record(g.rec); err == nil {
						decodeHeader(hdr, &Vulnerability{})
					}
					for _, a := range g.affs {
						decodeAffected(a, &Affected{})
					}
				}
			}
		}
		x.find(x.aliases, x.nalias, key)
	})
}
