package epss

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/plugin"
)

func TestParseFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/epss_scores.csv")
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	for _, tc := range []struct {
		name string
		in   []byte
	}{{"plain", raw}, {"gzip", gz.Bytes()}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(bytes.NewReader(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s.ModelVersion != "v2025.03.14" || !s.ScoreDate.Equal(time.Date(2025, 8, 25, 12, 55, 0, 0, time.UTC)) {
				t.Errorf("model %q, score date %v", s.ModelVersion, s.ScoreDate)
			}
			if len(s.Rows) != 8 {
				t.Fatalf("%d rows, want 8", len(s.Rows))
			}
			want := Score{CVE: "CVE-2021-44228", EPSS: 0.94358, Percentile: 0.99961}
			if diff := cmp.Diff(want, s.Rows[2]); diff != "" {
				t.Errorf("row 2 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	const head = "#model_version:v2023.03.01,score_date:2023-03-05T00:00:00+0000\ncve,epss,percentile\n"
	for _, tc := range []struct {
		name     string
		in       string
		fatal    string
		problems []string
		rows     []string
	}{
		{name: "no_header", in: "CVE-2021-44228,0.9,0.9\n", fatal: `line 1: not an EPSS header`},
		{name: "empty", in: "", fatal: `no "cve,epss,percentile" header`},
		{name: "kev_json", in: `{"vulnerabilities":[]}`, fatal: "not an EPSS header"},
		{name: "old_format_no_comment", in: "cve,epss,percentile\nCVE-2021-44228,0.97,0.99\n", rows: []string{"CVE-2021-44228"}},
		{name: "bad_rows", in: head + "CVE-2021-44228,0.97,0.99\nCVE-2021-4,0.1,0.1\nCVE-2022-0001,1.5,0.2\nCVE-2022-0002,0.1\nCVE-2022-0003,NaN,0.2\nCVE-2022-0004,0.1,0.2,9\n",
			problems: []string{
				`line 4: "CVE-2021-4": not a CVE ID`,
				`line 5: CVE-2022-0001: epss "1.5": not in [0, 1]`,
				`line 6: want 3 fields: "CVE-2022-0002,0.1"`,
				`line 7: CVE-2022-0003: epss "NaN": not in [0, 1]`,
				`line 8: want 3 fields: "CVE-2022-0004,0.1,0.2,9"`,
			},
			rows: []string{"CVE-2021-44228"}},
		{name: "bad_score_date", in: "#model_version:v1,score_date:yesterday\ncve,epss,percentile\n", problems: []string{`line 1: score_date "yesterday": not a time`}},
		{name: "sorted_by_number", in: head + "CVE-2021-44228,0.9,0.9\nCVE-2021-4104,0.5,0.5\nCVE-2020-10000,0.1,0.1\n",
			rows: []string{"CVE-2020-10000", "CVE-2021-4104", "CVE-2021-44228"}},
		{name: "duplicates", in: head + "CVE-2021-44228,0.9,0.9\nCVE-2021-44228,0.9,0.9\n",
			problems: []string{"1 duplicate CVE rows dropped"}, rows: []string{"CVE-2021-44228"}},
		{name: "long_line", in: head + strings.Repeat("9", 5000) + "\n", fatal: "line 3: longer than 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(strings.NewReader(tc.in))
			if tc.fatal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fatal) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tc.fatal)
				}
				return
			}
			var problems []string
			var pe *plugin.PartialError
			if errors.As(err, &pe) {
				problems = pe.Problems
			} else if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.problems, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			var rows []string
			for _, r := range s.Rows {
				rows = append(rows, r.CVE)
			}
			if diff := cmp.Diff(tc.rows, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		cve string
		ok  bool
	}{
		{"CVE-2021-44228", true},
		{"CVE-1999-0001", true},
		{"CVE-2024-1234567", true},
		{"CVE-2024-01234", false}, // not canonical: a leading zero past four digits
		{"CVE-2024-123", false},
		{"CVE-24-1234", false},
		{"cve-2024-1234", false},
		{"CVE-2024-12345678901", false},
		{"CVE-2024-12a4", false},
	} {
		t.Run(tc.cve, func(t *testing.T) {
			k, ok := Key(tc.cve)
			if ok != tc.ok {
				t.Fatalf("Key(%q) ok = %v, want %v", tc.cve, ok, tc.ok)
			}
			if ok && CVE(k) != tc.cve {
				t.Errorf("CVE(Key(%q)) = %q", tc.cve, CVE(k))
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/epss_scores.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("cve,epss,percentile\nCVE-2021-44228,1e-3,0.5\nCVE-2021-44228,0,1\n"))
	f.Add([]byte("#score_date:2023-03-05\nCVE,EPSS,PERCENTILE\nCVE-2024-0001,0.1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(bytes.NewReader(data))
		var pe *plugin.PartialError
		if err != nil && !errors.As(err, &pe) {
			return
		}
		if n := bytes.Count(data, []byte("\n")) + 1; len(s.Rows) > n && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			t.Fatalf("%d rows from %d lines", len(s.Rows), n)
		}
		var prev uint64
		for i, r := range s.Rows {
			k, ok := Key(r.CVE)
			if !ok || CVE(k) != r.CVE {
				t.Fatalf("row %d: bad CVE %q", i, r.CVE)
			}
			if i > 0 && k <= prev {
				t.Fatalf("rows not sorted and unique at %d", i)
			}
			prev = k
			if !(r.EPSS >= 0 && r.EPSS <= 1 && r.Percentile >= 0 && r.Percentile <= 1) {
				t.Fatalf("row %d out of range: %+v", i, r)
			}
		}
	})
}
