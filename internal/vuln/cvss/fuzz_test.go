package cvss

import (
	"math"
	"testing"
)

// FuzzParse checks that Parse never panics, that every accepted vector
// gives a known version, a score within 0-10 with one decimal, and the
// severity of its band, and that re-parsing the returned vector gives the
// same result.
func FuzzParse(f *testing.F) {
	for _, v := range []string{
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
		"CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
		"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/CR:H/MAV:L",
		"CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
		"CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:P/VC:N/VI:H/VA:H/SC:N/SI:L/SA:L/E:P/CR:H/IR:M/AR:H/MAV:A/MAT:P/MPR:N/MVI:H/MVA:N/MSI:H/MSA:N/S:N/V:C/U:Amber",
		"AV:N/AC:L/Au:N/C:C/I:C/A:C",
		"(AV:N/AC:M/Au:N/C:P/I:P/A:P)",
		"AV:N/AC:L/Au:N/C:N/I:N/A:C/E:F/RL:OF/RC:C/CDP:H/TD:H/CR:M/IR:M/AR:H",
		"CVSS:5.0/AV:N",
		"",
	} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, vector string) {
		s, err := Parse(vector)
		if err != nil {
			return
		}
		switch s.Version {
		case V2, V30, V31, V40:
		default:
			t.Fatalf("Parse(%q): version %q", vector, s.Version)
		}
		if s.Base < 0 || s.Base > 10 || math.Abs(s.Base*10-math.Round(s.Base*10)) > 1e-9 {
			t.Fatalf("Parse(%q): base %v", vector, s.Base)
		}
		want := SeverityOf(s.Base)
		if s.Version == V2 {
			want = SeverityV2(s.Base)
		}
		if s.Severity != want || s.Severity == SeverityUnspecified {
			t.Fatalf("Parse(%q): severity %v for %v, want %v", vector, s.Severity, s.Base, want)
		}
		again, err := Parse(s.Vector)
		if err != nil || again != s {
			t.Fatalf("re-parse of %q: %+v, %v; first %+v", s.Vector, again, err, s)
		}
	})
}
