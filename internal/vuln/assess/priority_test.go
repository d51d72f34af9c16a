package assess

import (
	"math"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/severity"
)

// TestWorkedExample computes exactly the numbers of the worked example in
// docs/priority.md.
func TestWorkedExample(t *testing.T) {
	now := time.Date(2023, 10, 13, 0, 0, 0, 0, time.UTC)
	a := finding.Finding{
		Advisory: finding.Advisory{
			ID: "GHSA-qppj-fm5r-hxr3", Aliases: []string{"CVE-2023-44487"}, Severity: severity.High,
			CVSS:      finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", Score: 7.5},
			Published: time.Date(2023, 10, 10, 0, 0, 0, 0, time.UTC),
		},
		Target: finding.Target{Package: inventory.Package{Name: "golang.org/x/net", Version: "0.16.0", Ecosystem: "Go"}},
		KEV:    finding.KEV{Listed: true, CVE: "CVE-2023-44487", DateAdded: time.Date(2023, 10, 10, 0, 0, 0, 0, time.UTC)},
		EPSS:   finding.EPSS{CVE: "CVE-2023-44487", Score: 0.94, Percentile: 0.999},
	}
	b := finding.Finding{
		Advisory: finding.Advisory{
			ID: "GHSA-xxxx-2019", Aliases: []string{"CVE-2019-0000"}, Severity: severity.Critical,
			CVSS:      finding.CVSS{Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8},
			Published: time.Date(2019, 5, 14, 0, 0, 0, 0, time.UTC),
		},
		Target: finding.Target{Package: inventory.Package{Name: "example", Version: "1.0.0", Ecosystem: "npm"}},
		EPSS:   finding.EPSS{CVE: "CVE-2019-0000", Score: 0.001, Percentile: 0.42},
	}
	exposedA := func(p inventory.Package) (bool, string) {
		return p.Name == "golang.org/x/net", "/usr/bin/api (pid 812) listens on 0.0.0.0:443"
	}
	gotA := Score(&a, Context{Now: now, Importance: ImportanceCritical, Exposure: exposedA})
	gotB := Score(&b, Context{Now: now, Importance: ImportanceNormal, Exposure: exposedA})

	wantA := finding.Priority{Score: 84.41, Factors: []finding.Factor{
		{Name: "cvss", Value: 7.5, Points: 26.25, Detail: "CVSS 3.1 base score 7.5 × 3.5"},
		{Name: "kev", Value: 1, Points: 25, Detail: "CVE-2023-44487 in CISA KEV since 2023-10-10"},
		{Name: "epss", Value: 0.94, Points: 14.54, Detail: "CVE-2023-44487 EPSS 0.94000 (percentile 0.999): 15 × √0.94000"},
		{Name: "recency", Value: 3, Points: 8.62, Detail: "published 2023-10-10, 3.0 days ago: 10 × 0.5^(days/14)"},
		{Name: "exposure", Value: 1, Points: 10, Detail: "/usr/bin/api (pid 812) listens on 0.0.0.0:443"},
		{Name: "asset_importance", Value: 1, Points: 0, Detail: "critical asset: 84.41 × 1.00"},
	}}
	wantB := finding.Priority{Score: 24.34, Factors: []finding.Factor{
		{Name: "cvss", Value: 9.8, Points: 34.3, Detail: "CVSS 3.1 base score 9.8 × 3.5"},
		{Name: "kev", Value: 0, Points: 0, Detail: "not in CISA KEV"},
		{Name: "epss", Value: 0.001, Points: 0.47, Detail: "CVE-2019-0000 EPSS 0.00100 (percentile 0.420): 15 × √0.00100"},
		{Name: "recency", Value: 1613, Points: 0, Detail: "published 2019-05-14, 1613.0 days ago: 10 × 0.5^(days/14)"},
		{Name: "exposure", Value: 0, Points: 0, Detail: "not loaded by a process listening on an exposed port"},
		{Name: "asset_importance", Value: 0.7, Points: -10.43, Detail: "normal asset: 34.77 × 0.70"},
	}}
	approx := cmpopts.EquateApprox(0, 1e-9)
	if diff := gocmp.Diff(wantA, gotA, approx); diff != "" {
		t.Errorf("finding A (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(wantB, gotB, approx); diff != "" {
		t.Errorf("finding B (-want +got):\n%s", diff)
	}
	fs := []finding.Finding{b, a}
	fs[0].Priority, fs[1].Priority = gotB, gotA
	Sort(fs)
	if fs[0].Advisory.ID != a.Advisory.ID {
		t.Errorf("first finding = %s, want the KEV-listed one", fs[0].Advisory.ID)
	}
}

// TestScoreFactors checks each factor alone and that the factors always add
// up to the score, which stays within 0..100.
func TestScoreFactors(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	base := finding.Finding{Advisory: finding.Advisory{ID: "X"}}
	tests := []struct {
		name   string
		mod    func(f *finding.Finding, c *Context)
		factor string
		want   float64 // points of factor
	}{
		{"unspecified_severity_assumed_medium", func(*finding.Finding, *Context) {}, "cvss", 19.25},
		{"severity_word_high", func(f *finding.Finding, _ *Context) { f.Advisory.Severity = severity.High }, "cvss", 28},
		{"cvss_10", func(f *finding.Finding, _ *Context) {
			f.Advisory.CVSS = finding.CVSS{Version: "3.1", Vector: "v", Score: 10}
		}, "cvss", 35},
		{"kev_ransomware", func(f *finding.Finding, _ *Context) { f.KEV = finding.KEV{Listed: true, CVE: "C", Ransomware: true} }, "kev", 30},
		{"epss_one", func(f *finding.Finding, _ *Context) { f.EPSS = finding.EPSS{CVE: "C", Score: 1} }, "epss", 15},
		{"epss_scored_zero", func(f *finding.Finding, _ *Context) { f.EPSS = finding.EPSS{CVE: "C"} }, "epss", 0},
		{"published_today", func(f *finding.Finding, _ *Context) { f.Advisory.Published = now }, "recency", 10},
		{"published_in_future", func(f *finding.Finding, _ *Context) { f.Advisory.Published = now.Add(48 * time.Hour) }, "recency", 10},
		{"published_14_days_ago", func(f *finding.Finding, _ *Context) { f.Advisory.Published = now.AddDate(0, 0, -14) }, "recency", 5},
		{"published_zero_go_export", func(f *finding.Finding, _ *Context) { f.Advisory.Published = time.Time{}.UTC() }, "recency", 0},
		{"exposed_default_reason", func(_ *finding.Finding, c *Context) {
			c.Exposure = func(inventory.Package) (bool, string) { return true, "" }
		}, "exposure", 10},
		{"low_importance", func(_ *finding.Finding, c *Context) { c.Importance = ImportanceLow }, "asset_importance", -11.55},
		{"high_importance", func(_ *finding.Finding, c *Context) { c.Importance = ImportanceHigh }, "asset_importance", -2.89},
		{"unspecified_importance_is_normal", func(_ *finding.Finding, c *Context) {}, "asset_importance", -5.78},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			c := Context{Now: now}
			tc.mod(&f, &c)
			p := Score(&f, c)
			var sum float64
			found := false
			for _, fa := range p.Factors {
				sum += fa.Points
				if fa.Name == tc.factor {
					found = true
					if math.Abs(fa.Points-tc.want) > 1e-9 {
						t.Errorf("%s points = %v, want %v (%s)", fa.Name, fa.Points, tc.want, fa.Detail)
					}
				}
			}
			if !found {
				t.Errorf("factor %q missing: %+v", tc.factor, p.Factors)
			}
			if math.Abs(sum-p.Score) > 1e-9 || p.Score < 0 || p.Score > 100 {
				t.Errorf("score %v, factors sum %v", p.Score, sum)
			}
		})
	}
}

func TestMaximumScore(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	f := finding.Finding{
		Advisory: finding.Advisory{CVSS: finding.CVSS{Vector: "v", Score: 10}, Published: now},
		KEV:      finding.KEV{Listed: true, Ransomware: true},
		EPSS:     finding.EPSS{CVE: "C", Score: 1},
	}
	p := Score(&f, Context{Now: now, Importance: ImportanceCritical, Exposure: func(inventory.Package) (bool, string) { return true, "" }})
	if p.Score != 100 {
		t.Errorf("maximum score = %v, want 100", p.Score)
	}
}

func TestParseImportance(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Importance
		err  bool
	}{
		{"", ImportanceNormal, false}, {"low", ImportanceLow, false}, {"normal", ImportanceNormal, false},
		{"high", ImportanceHigh, false}, {"critical", ImportanceCritical, false}, {"CRITICAL", 0, true}, {"vip", 0, true},
	} {
		got, err := ParseImportance(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseImportance(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestSort(t *testing.T) {
	mk := func(id string, score float64, sev severity.Level, pkg string) finding.Finding {
		return finding.Finding{
			Advisory: finding.Advisory{ID: id, Severity: sev},
			Target:   finding.Target{Package: inventory.Package{Name: pkg}},
			Priority: finding.Priority{Score: score},
		}
	}
	fs := []finding.Finding{
		mk("GO-3", 40, severity.Low, "a"),
		mk("GO-2", 40, severity.High, "b"),
		mk("GO-1", 40, severity.High, "b"),
		mk("GO-1", 40, severity.High, "a"),
		mk("GO-9", 90, severity.Unspecified, "z"),
		mk("GO-0", 10, severity.Critical, "a"),
	}
	Sort(fs)
	var got []string
	for _, f := range fs {
		got = append(got, f.Advisory.ID+"/"+f.Target.Package.Name)
	}
	want := []string{"GO-9/z", "GO-1/a", "GO-1/b", "GO-2/b", "GO-3/a", "GO-0/a"}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}
