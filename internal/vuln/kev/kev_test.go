package kev

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/plugin"
)

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseFixture(t *testing.T) {
	f, err := os.Open("testdata/known_exploited_vulnerabilities.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var ids []string
	for _, e := range c.Entries {
		ids = append(ids, e.CVE)
	}
	wantIDs := []string{"CVE-2020-0601", "CVE-2021-44228", "CVE-2023-44487", "CVE-2024-3400", "CVE-2025-24016", "CVE-2025-48384", "CVE-2025-49704", "CVE-2025-49706"}
	if diff := cmp.Diff(wantIDs, ids); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if c.CatalogVersion != "2025.08.25" || c.DateReleased.Format(time.RFC3339Nano) != "2025-08-25T17:04:19.9796Z" {
		t.Errorf("catalogue version %q released %v", c.CatalogVersion, c.DateReleased)
	}
	for _, tc := range []struct {
		cve  string
		want Entry
		ok   bool
	}{
		{"CVE-2021-44228", Entry{CVE: "CVE-2021-44228", DateAdded: date("2021-12-10"), DueDate: date("2021-12-24"), KnownRansomwareCampaignUse: true}, true},
		{"CVE-2023-44487", Entry{CVE: "CVE-2023-44487", DateAdded: date("2023-10-10"), DueDate: date("2023-10-31")}, true},
		{"CVE-2023-39325", Entry{}, false},
	} {
		t.Run(tc.cve, func(t *testing.T) {
			got, ok := c.Lookup(tc.cve)
			if ok != tc.ok {
				t.Fatalf("Lookup(%q) ok = %v, want %v", tc.cve, ok, tc.ok)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tc.cve, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	good := `{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10","dueDate":"2021-12-24","knownRansomwareCampaignUse":"Known"}`
	for _, tc := range []struct {
		name     string
		in       string
		fatal    string   // substring of a whole-file error
		problems []string // per-entry problems
		entries  int
	}{
		{name: "not_json", in: "CVE-2021-44228\n", fatal: "decode catalogue"},
		{name: "osv_record", in: `{"id":"GO-2022-0969","affected":[]}`, fatal: "no \"vulnerabilities\" array"},
		{name: "vulnerabilities_not_array", in: `{"vulnerabilities":{}}`, fatal: "decode catalogue"},
		{name: "bad_cve", in: `{"vulnerabilities":[` + good + `,{"cveID":"CVE-21-1","dateAdded":"2021-12-10"}]}`,
			problems: []string{`vulnerabilities[1]: cveID "CVE-21-1": not a CVE ID`}, entries: 1},
		{name: "bad_date", in: `{"vulnerabilities":[{"cveID":"CVE-2024-3400","dateAdded":"12/04/2024"},` + good + `]}`,
			problems: []string{`vulnerabilities[0]: CVE-2024-3400: dateAdded "12/04/2024": not a date`}, entries: 1},
		{name: "missing_date_added", in: `{"vulnerabilities":[{"cveID":"CVE-2024-3400"}]}`,
			problems: []string{`vulnerabilities[0]: CVE-2024-3400: dateAdded "": not a date`}},
		{name: "entry_not_object", in: `{"vulnerabilities":[7,` + good + `]}`,
			problems: []string{`vulnerabilities[0]: json: cannot unmarshal number into Go value of type kev.rawEntry`}, entries: 1},
		{name: "count_mismatch", in: `{"count":2,"vulnerabilities":[` + good + `]}`,
			problems: []string{"count is 2 but the catalogue lists 1 vulnerabilities"}, entries: 1},
		{name: "duplicates_collapse", in: `{"vulnerabilities":[` + good + `,` + good + `]}`, entries: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(strings.NewReader(tc.in))
			if tc.fatal != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fatal) {
					t.Fatalf("Parse error = %v, want one containing %q", err, tc.fatal)
				}
				return
			}
			var got []string
			var pe *plugin.PartialError
			if errors.As(err, &pe) {
				got = pe.Problems
			} else if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.problems, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if len(c.Entries) != tc.entries {
				t.Errorf("%d entries, want %d", len(c.Entries), tc.entries)
			}
		})
	}
}

func TestParseCorpus(t *testing.T) {
	f, err := os.Open("../../../../shared/data/kev/known_exploited_vulnerabilities.json")
	if err != nil {
		t.Skipf("shared KEV catalogue absent (%v): corpus test skipped", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	known := 0
	for _, e := range c.Entries {
		if e.KnownRansomwareCampaignUse {
			known++
		}
	}
	if len(c.Entries) != 1404 || known != 293 {
		t.Errorf("%d entries (%d with known ransomware use), want 1404 (293)", len(c.Entries), known)
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/known_exploited_vulnerabilities.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"vulnerabilities":[{"cveID":"CVE-2021-44228","dateAdded":"2021-12-10"},{"cveID":"x"}]}`))
	f.Add([]byte(`{"count":1,"dateReleased":"x","vulnerabilities":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(strings.NewReader(string(data)))
		var pe *plugin.PartialError
		if err != nil && !errors.As(err, &pe) {
			if c != nil {
				t.Fatalf("catalogue returned with fatal error %v", err)
			}
			return
		}
		for i, e := range c.Entries {
			if !ValidCVE(e.CVE) || e.DateAdded.IsZero() {
				t.Fatalf("entry %d invalid: %+v", i, e)
			}
			if i > 0 && c.Entries[i-1].CVE >= e.CVE {
				t.Fatalf("entries not sorted and unique at %d", i)
			}
			if got, ok := c.Lookup(e.CVE); !ok || got != e {
				t.Fatalf("Lookup(%q) = %+v, %v", e.CVE, got, ok)
			}
		}
	})
}
