package cvss

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// Expected scores are the worked examples of FIRST's specification
// documents (v2.0 guide section 3.3, v3.0 and v3.1 "Examples" documents,
// v4.0 "Examples" document) or, where noted, FIRST's calculator.
func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		vector string
		want   Score
	}{
		// CVSS v2.0
		{"v2_cve_2002_0392", "AV:N/AC:L/Au:N/C:N/I:N/A:C", Score{V2, "AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8, SeverityHigh}},
		{"v2_cve_2003_0818", "AV:N/AC:L/Au:N/C:C/I:C/A:C", Score{V2, "AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0, SeverityHigh}},
		{"v2_cve_2003_0062", "AV:L/AC:H/Au:N/C:C/I:C/A:C", Score{V2, "AV:L/AC:H/Au:N/C:C/I:C/A:C", 6.2, SeverityMedium}},
		{"v2_nvd_parentheses", "(AV:N/AC:M/Au:N/C:P/I:P/A:P)", Score{V2, "AV:N/AC:M/Au:N/C:P/I:P/A:P", 6.8, SeverityMedium}},
		{"v2_no_impact", "AV:N/AC:L/Au:N/C:N/I:N/A:N", Score{V2, "AV:N/AC:L/Au:N/C:N/I:N/A:N", 0.0, SeverityLow}},
		{"v2_with_temporal", "AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C", Score{V2, "AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C", 7.8, SeverityHigh}},
		// CVSS v3.0
		{"v30_heartbleed", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score{V30, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5, SeverityHigh}},
		{"v30_shellshock", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score{V30, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, SeverityCritical}},
		{"v30_phpmyadmin_xss", "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", Score{V30, "CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, SeverityMedium}},
		{"v30_poodle", "CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", Score{V30, "CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1, SeverityLow}},
		{"v30_mysql_scope_changed", "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", Score{V30, "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4, SeverityMedium}},
		// CVSS v3.1
		{"v31_critical", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score{V31, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, SeverityCritical}},
		{"v31_log4shell", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", Score{V31, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, SeverityCritical}},
		{"v31_local_high", "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", Score{V31, "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, SeverityHigh}},
		{"v31_low", "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", Score{V31, "CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, SeverityLow}},
		{"v31_none", "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N", Score{V31, "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0, SeverityNone}},
		{"v31_temporal_ignored_for_base", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", Score{V31, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", 9.8, SeverityCritical}},
		{"v31_trailing_space", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H ", Score{V31, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, SeverityCritical}},
		// CVSS v4.0
		{"v40_vuln_system_high", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", Score{V40, "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3, SeverityCritical}},
		{"v40_full_impact", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", Score{V40, "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 10.0, SeverityCritical}},
		{"v40_nginx_cve_2022_41741", "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", Score{V40, "CVSS:4.0/AV:L/AC:L/AT:P/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 7.3, SeverityHigh}},
		{"v40_no_impact", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", Score{V40, "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0, SeverityNone}},
		// FIRST calculator values (also go-cvss's regression cases).
		{"v40_physical_low", "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", Score{V40, "CVSS:4.0/AV:P/AC:H/AT:P/PR:H/UI:A/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N", 1.0, SeverityLow}},
		{"v40_medium", "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L", Score{V40, "CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L", 5.2, SeverityMedium}},
		{"v40_subsequent_only", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H", Score{V40, "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:H/SI:H/SA:H", 7.9, SeverityHigh}},
		{"v40_threat_unreported", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U", Score{V40, "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H/E:U", 9.1, SeverityCritical}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.vector)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.vector, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.vector, diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		vector string
		want   string // in the message besides the quoted vector
	}{
		{"empty", "", ""},
		{"garbage", "not a vector", ""},
		{"v31_missing_metrics", "CVSS:3.1/AV:N/AC:L", "not defined"},
		{"v31_bad_value", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "invalid"},
		{"v31_duplicate_metric", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/AV:N", "multiple"},
		{"v31_unknown_metric", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:N", "invalid"},
		{"v30_lowercase", "cvss:3.0/av:n/ac:l/pr:n/ui:n/s:u/c:h/i:h/a:h", ""},
		{"v40_missing_subsequent", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H", ""},
		{"v40_v3_metrics", "CVSS:4.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ""},
		{"unsupported_version", "CVSS:5.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", `unsupported CVSS version "5.0"`},
		{"v2_with_v3_prefix_metrics", "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", ""},
		{"v2_truncated", "AV:N/AC:L/Au:N", ""},
		{"trailing_slash", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.vector)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.vector, got)
			}
			if !errors.Is(err, ErrInvalidVector) {
				t.Errorf("error %q does not wrap ErrInvalidVector", err)
			}
			if !strings.Contains(err.Error(), `"`+tt.vector+`"`) {
				t.Errorf("error %q does not name the vector", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestSeverityBands(t *testing.T) {
	tests := []struct {
		score  float64
		v3, v2 Severity
	}{
		{0.0, SeverityNone, SeverityLow},
		{0.1, SeverityLow, SeverityLow},
		{3.9, SeverityLow, SeverityLow},
		{4.0, SeverityMedium, SeverityMedium},
		{6.9, SeverityMedium, SeverityMedium},
		{7.0, SeverityHigh, SeverityHigh},
		{8.9, SeverityHigh, SeverityHigh},
		{9.0, SeverityCritical, SeverityHigh},
		{10.0, SeverityCritical, SeverityHigh},
		{-0.1, SeverityUnspecified, SeverityUnspecified},
		{10.1, SeverityUnspecified, SeverityUnspecified},
	}
	for _, tt := range tests {
		if got := SeverityOf(tt.score); got != tt.v3 {
			t.Errorf("SeverityOf(%v) = %v, want %v", tt.score, got, tt.v3)
		}
		if got := SeverityV2(tt.score); got != tt.v2 {
			t.Errorf("SeverityV2(%v) = %v, want %v", tt.score, got, tt.v2)
		}
	}
	if got := Severity(42).String(); got != "Severity(42)" {
		t.Errorf("String of unknown severity = %q", got)
	}
	if got := SeverityCritical.String(); got != "Critical" {
		t.Errorf("SeverityCritical.String() = %q", got)
	}
}

func TestFromOSV(t *testing.T) {
	tests := []struct {
		name    string
		sev     osv.Severity
		want    Score
		wantErr string
	}{
		{
			name: "v3", sev: osv.Severity{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
			want: Score{V31, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, SeverityCritical},
		},
		{
			name: "v4", sev: osv.Severity{Type: "CVSS_V4", Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"},
			want: Score{V40, "CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", 5.1, SeverityMedium},
		},
		{
			name: "v2", sev: osv.Severity{Type: "CVSS_V2", Score: "AV:L/AC:M/Au:N/C:N/I:P/A:C"},
			want: Score{V2, "AV:L/AC:M/Au:N/C:N/I:P/A:C", 5.4, SeverityMedium},
		},
		{name: "ubuntu_priority", sev: osv.Severity{Type: "Ubuntu", Score: "medium"}, wantErr: `severity type "Ubuntu" is not CVSS`},
		{name: "type_mismatch", sev: osv.Severity{Type: "CVSS_V3", Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}, wantErr: "CVSS 4.0 vector in a CVSS_V3 severity"},
		{name: "bad_vector", sev: osv.Severity{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N"}, wantErr: `"CVSS:3.1/AV:N"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromOSV(tt.sev)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("FromOSV = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
