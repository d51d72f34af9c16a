package match

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/vuln/osv"
)

func loadRecord(t testing.TB, id string) osv.Vulnerability {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/osv", id+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var v osv.Vulnerability
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", id, err)
	}
	return v
}

func affectedEntry(t testing.TB, v osv.Vulnerability, name string) osv.Affected {
	t.Helper()
	for _, a := range v.Affected {
		if a.Package.Name == name {
			return a
		}
	}
	t.Fatalf("%s has no affected entry for %q", v.ID, name)
	return osv.Affected{}
}

type matchResult struct {
	Vulnerable bool
	Fixed      string
}

func TestAffectedRealRecords(t *testing.T) {
	tests := []struct {
		name      string
		record    string
		pkg       string
		ecosystem string
		version   string
		want      matchResult
	}{
		// stdlib: introduced 1.16.0-0, fixed 1.16.1.
		{"stdlib_release_name", "GO-2021-0067", "stdlib", "Go", "go1.16", matchResult{true, "1.16.1"}},
		{"stdlib_rc_in_range", "GO-2021-0067", "stdlib", "Go", "go1.16rc1", matchResult{true, "1.16.1"}},
		{"stdlib_beta_in_range", "GO-2021-0067", "stdlib", "Go", "go1.16beta1", matchResult{true, "1.16.1"}},
		{"stdlib_before_introduced", "GO-2021-0067", "stdlib", "Go", "go1.15.8", matchResult{}},
		{"stdlib_at_fixed", "GO-2021-0067", "stdlib", "Go", "go1.16.1", matchResult{}},
		{"stdlib_semver_form", "GO-2021-0067", "stdlib", "Go", "1.16.0", matchResult{true, "1.16.1"}},
		{"stdlib_v_form", "GO-2021-0067", "stdlib", "Go", "v1.16.0", matchResult{true, "1.16.1"}},
		{"stdlib_experiment_suffix", "GO-2021-0067", "stdlib", "Go", "go1.16.0 X:boringcrypto", matchResult{true, "1.16.1"}},
		// stdlib: [0, 1.18.6) and [1.19.0-0, 1.19.1).
		{"stdlib_first_interval", "GO-2022-0969", "stdlib", "Go", "go1.18.5", matchResult{true, "1.18.6"}},
		{"stdlib_between_intervals", "GO-2022-0969", "stdlib", "Go", "go1.18.10", matchResult{}},
		{"stdlib_second_interval", "GO-2022-0969", "stdlib", "Go", "go1.19", matchResult{true, "1.19.1"}},
		{"stdlib_second_interval_rc", "GO-2022-0969", "stdlib", "Go", "go1.19rc2", matchResult{true, "1.19.1"}},
		{"stdlib_after_all", "GO-2022-0969", "stdlib", "Go", "go1.22.5", matchResult{}},
		// golang.org/x/net fixed at pseudo-version 0.0.0-20220906165146-f3363e06e74c.
		{"xnet_older_pseudo", "GO-2022-0969", "golang.org/x/net", "Go", "v0.0.0-20220127200216-cd36cc0744dd", matchResult{true, "0.0.0-20220906165146-f3363e06e74c"}},
		{"xnet_at_fixed_pseudo", "GO-2022-0969", "golang.org/x/net", "Go", "v0.0.0-20220906165146-f3363e06e74c", matchResult{}},
		{"xnet_release_after_pseudo", "GO-2022-0969", "golang.org/x/net", "Go", "v0.1.0", matchResult{}},
		// HTTP/2 rapid reset.
		{"xnet_rapid_reset", "GO-2023-2102", "golang.org/x/net", "Go", "v0.16.0", matchResult{true, "0.17.0"}},
		{"xnet_rapid_reset_no_v", "GO-2023-2102", "golang.org/x/net", "Go", "0.16.0", matchResult{true, "0.17.0"}},
		{"xnet_rapid_reset_fixed", "GO-2023-2102", "golang.org/x/net", "Go", "v0.17.0", matchResult{}},
		{"stdlib_rapid_reset_121", "GO-2023-2102", "stdlib", "Go", "go1.21.2", matchResult{true, "1.21.3"}},
		{"stdlib_rapid_reset_120_fixed", "GO-2023-2102", "stdlib", "Go", "go1.20.10", matchResult{}},
		// toolchain: [0, 1.19.10), [1.20.0-0, 1.20.5).
		{"toolchain_119", "GO-2023-1839", "toolchain", "Go", "go1.19.9", matchResult{true, "1.19.10"}},
		{"toolchain_120_rc", "GO-2023-1839", "toolchain", "Go", "go1.20rc3", matchResult{true, "1.20.5"}},
		{"toolchain_fixed", "GO-2023-1839", "toolchain", "Go", "go1.19.10", matchResult{}},
		// introduced and fixed both pseudo-versions.
		{"pseudo_before_introduced", "GO-2020-0004", "github.com/nanobox-io/golang-nanoauth", "Go", "v0.0.0-20160101000000-000000000000", matchResult{}},
		{"pseudo_in_range", "GO-2020-0004", "github.com/nanobox-io/golang-nanoauth", "Go", "v0.0.0-20180101000000-abcdefabcdef", matchResult{true, "0.0.0-20200131131040-063a3fb69896"}},
		{"pseudo_at_introduced", "GO-2020-0004", "github.com/nanobox-io/golang-nanoauth", "Go", "v0.0.0-20160722212129-ac0cc4484ad4", matchResult{true, "0.0.0-20200131131040-063a3fb69896"}},
		// fixed at 1.0.4-0.20180125103619-43913f2f4fbd (a pseudo-version before v1.0.4).
		{"release_before_pseudo_fix", "GO-2020-0006", "github.com/miekg/dns", "Go", "v1.0.3", matchResult{true, "1.0.4-0.20180125103619-43913f2f4fbd"}},
		{"earlier_pseudo_of_same_base", "GO-2020-0006", "github.com/miekg/dns", "Go", "v1.0.4-0.20180101000000-aaaaaaaaaaaa", matchResult{true, "1.0.4-0.20180125103619-43913f2f4fbd"}},
		{"release_after_pseudo_fix", "GO-2020-0006", "github.com/miekg/dns", "Go", "v1.0.4", matchResult{}},
		{"incompatible_major", "GO-2020-0006", "github.com/miekg/dns", "Go", "v1.0.3+incompatible", matchResult{true, "1.0.4-0.20180125103619-43913f2f4fbd"}},
		// PyPI py: [0, 1.11.0] by last_affected: no fix known.
		{"last_affected_at_bound", "PYSEC-2022-42969", "py", "PyPI", "1.11.0", matchResult{true, ""}},
		{"last_affected_below", "PYSEC-2022-42969", "py", "PyPI", "1.4.7.dev3", matchResult{true, ""}},
		{"last_affected_above", "PYSEC-2022-42969", "py", "PyPI", "1.11.1", matchResult{}},
		// werkzeug: GIT range ignored, ECOSYSTEM [0, 2.2.3).
		{"git_range_ignored_vulnerable", "PYSEC-2023-58", "werkzeug", "PyPI", "2.2.2", matchResult{true, "2.2.3"}},
		{"git_range_ignored_fixed", "PYSEC-2023-58", "werkzeug", "PyPI", "2.2.3", matchResult{}},
		{"pep440_normalised_equal_to_fix", "PYSEC-2023-58", "werkzeug", "PyPI", "2.2.3.0", matchResult{}},
		// ansible-core: events listed [2.16.0, 2.16.3), [2.15.0, 2.15.9), [0, 2.14.4).
		{"unsorted_events_middle_interval", "PYSEC-2024-36", "ansible-core", "PyPI", "2.15.5", matchResult{true, "2.15.9"}},
		{"unsorted_events_top_interval", "PYSEC-2024-36", "ansible-core", "PyPI", "2.16.2", matchResult{true, "2.16.3"}},
		{"unsorted_events_bottom_interval", "PYSEC-2024-36", "ansible-core", "PyPI", "2.14.3", matchResult{true, "2.14.4"}},
		{"unsorted_events_gap", "PYSEC-2024-36", "ansible-core", "PyPI", "2.14.4", matchResult{}},
		{"unsorted_events_above", "PYSEC-2024-36", "ansible-core", "PyPI", "2.17.0", matchResult{}},
		// django: [0, 1.7.11), [1.8, 1.8.7), [1.9a0, 1.9rc2).
		{"pep440_prerelease_bounds", "PYSEC-2015-11", "django", "PyPI", "1.9b1", matchResult{true, "1.9rc2"}},
		{"pep440_prerelease_fixed", "PYSEC-2015-11", "django", "PyPI", "1.9rc2", matchResult{}},
		{"pep440_release_after", "PYSEC-2015-11", "django", "PyPI", "1.9", matchResult{}},
		{"pep440_branch_fix", "PYSEC-2015-11", "django", "PyPI", "1.8.6", matchResult{true, "1.8.7"}},
		{"pep440_first_interval", "PYSEC-2015-11", "django", "PyPI", "1.7.10", matchResult{true, "1.7.11"}},
		{"pep440_gap", "PYSEC-2015-11", "django", "PyPI", "1.7.11", matchResult{}},
		// apache-iotdb: [0.13.0, 0.14.0rc1) listed before [0.12.2, 0.13.0).
		{"adjacent_intervals_shared_bound", "PYSEC-2022-42972", "apache-iotdb", "PyPI", "0.13.0", matchResult{true, "0.14.0rc1"}},
		{"adjacent_intervals_lower", "PYSEC-2022-42972", "apache-iotdb", "PyPI", "0.12.5", matchResult{true, "0.14.0rc1"}},
		{"adjacent_intervals_below", "PYSEC-2022-42972", "apache-iotdb", "PyPI", "0.12.1", matchResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := affectedEntry(t, loadRecord(t, tt.record), tt.pkg)
			// The record's versions list and its ranges must each give the
			// answer: drop the list to test the range evaluation alone.
			rangesOnly := a
			rangesOnly.Versions = nil
			for _, in := range []struct {
				what string
				a    osv.Affected
			}{{"full record", a}, {"ranges only", rangesOnly}} {
				vuln, fixed, err := Affected(tt.ecosystem, tt.version, in.a)
				if err != nil {
					t.Fatalf("%s: Affected(%q, %q): %v", in.what, tt.ecosystem, tt.version, err)
				}
				if diff := cmp.Diff(tt.want, matchResult{vuln, fixed}); diff != "" {
					t.Errorf("%s %s@%s, %s (-want +got):\n%s", tt.record, tt.pkg, tt.version, in.what, diff)
				}
			}
		})
	}
}

// rng builds an ECOSYSTEM or SEMVER range from "introduced:1.0",
// "fixed:2.0", "last_affected:3", "limit:4" events.
func rng(typ string, events ...string) osv.Range {
	r := osv.Range{Type: typ}
	for _, e := range events {
		k, v, _ := strings.Cut(e, ":")
		var ev osv.Event
		switch k {
		case "introduced":
			ev.Introduced = v
		case "fixed":
			ev.Fixed = v
		case "last_affected":
			ev.LastAffected = v
		case "limit":
			ev.Limit = v
		}
		r.Events = append(r.Events, ev)
	}
	return r
}

func TestAffectedEdgeCases(t *testing.T) {
	deb := func(ranges ...osv.Range) osv.Affected {
		return osv.Affected{Package: osv.Package{Ecosystem: "Debian:12", Name: "openssl"}, Ranges: ranges}
	}
	tests := []struct {
		name      string
		ecosystem string
		version   string
		affected  osv.Affected
		want      matchResult
	}{
		{
			name: "introduced_zero_unfixed", ecosystem: "Debian:12", version: "0:1.0-1",
			affected: deb(rng("ECOSYSTEM", "introduced:0")),
			want:     matchResult{true, ""},
		},
		{
			name: "debian_epoch_fixed", ecosystem: "Debian:12", version: "3.0.11-1~deb12u2",
			affected: deb(rng("ECOSYSTEM", "introduced:0", "fixed:1:3.0.0-1")),
			want:     matchResult{true, "1:3.0.0-1"},
		},
		{
			name: "debian_tilde_security_update_fixed", ecosystem: "Debian:12", version: "3.0.15-1~deb12u1",
			affected: deb(rng("ECOSYSTEM", "introduced:0", "fixed:3.0.15-1~deb12u1")),
			want:     matchResult{},
		},
		{
			name: "debian_tilde_before_fix", ecosystem: "Debian:12", version: "3.0.14-1~deb12u2",
			affected: deb(rng("ECOSYSTEM", "introduced:0", "fixed:3.0.15-1~deb12u1")),
			want:     matchResult{true, "3.0.15-1~deb12u1"},
		},
		{
			name: "versions_list_only", ecosystem: "Debian:12", version: "1.2-3",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Debian:12", Name: "x"}, Versions: []string{"1.2-2", "1.2-3"}},
			want:     matchResult{true, ""},
		},
		{
			name: "versions_list_equal_by_ordering", ecosystem: "Debian:12", version: "0:1.2-3",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Debian:12", Name: "x"}, Versions: []string{"1.2-3"}},
			want:     matchResult{true, ""},
		},
		{
			name: "versions_list_miss", ecosystem: "Debian:12", version: "1.2-4",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Debian:12", Name: "x"}, Versions: []string{"1.2-2", "1.2-3"}},
			want:     matchResult{},
		},
		{
			name: "versions_list_hit_fix_from_range", ecosystem: "npm", version: "1.0.5",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Versions: []string{"1.0.5"},
				Ranges: []osv.Range{rng("SEMVER", "introduced:2.0.0", "fixed:2.0.1")}},
			want: matchResult{true, "2.0.1"},
		},
		{
			name: "last_affected_inclusive", ecosystem: "npm", version: "1.4.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "introduced:1.0.0", "last_affected:1.4.0")}},
			want:     matchResult{true, ""},
		},
		{
			name: "last_affected_then_fixed_branch", ecosystem: "npm", version: "1.2.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{
				rng("SEMVER", "introduced:0", "last_affected:1.4.0"),
				rng("SEMVER", "introduced:2.0.0", "fixed:2.3.0"),
			}},
			want: matchResult{true, "2.3.0"},
		},
		{
			name: "limit_excludes_at_and_above", ecosystem: "npm", version: "3.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "introduced:1.0.0", "limit:3.0.0")}},
			want:     matchResult{},
		},
		{
			name: "limit_includes_below", ecosystem: "npm", version: "2.9.9",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "introduced:1.0.0", "limit:3.0.0")}},
			want:     matchResult{true, ""},
		},
		{
			name: "limit_any_of_several", ecosystem: "npm", version: "4.5.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "introduced:1.0.0", "limit:3.0.0", "limit:5.0.0")}},
			want:     matchResult{true, ""},
		},
		{
			name: "limit_star_is_infinity", ecosystem: "npm", version: "99.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "introduced:1.0.0", "limit:*")}},
			want:     matchResult{true, ""},
		},
		{
			name: "overlapping_ranges_fix_must_be_clean", ecosystem: "npm", version: "1.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{
				rng("SEMVER", "introduced:0", "fixed:1.5.0"),
				rng("SEMVER", "introduced:1.2.0", "fixed:2.0.0"),
			}},
			want: matchResult{true, "2.0.0"},
		},
		{
			name: "semver_range_in_ecosystem_with_own_order", ecosystem: "PyPI", version: "1.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "PyPI", Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "introduced:0", "fixed:1.0.1")}},
			want:     matchResult{true, "1.0.1"},
		},
		{
			name: "git_only_never_matches", ecosystem: "PyPI", version: "1.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "PyPI", Name: "x"}, Ranges: []osv.Range{{Type: "GIT", Repo: "https://example.invalid/x", Events: []osv.Event{{Introduced: "0"}, {Fixed: "deadbeef"}}}}},
			want:     matchResult{},
		},
		{
			name: "alpine_release_suffix", ecosystem: "Alpine:v3.19", version: "3.1.4-r5",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Alpine:v3.19", Name: "openssl"}, Ranges: []osv.Range{rng("ECOSYSTEM", "introduced:0", "fixed:3.1.4-r6")}},
			want:     matchResult{true, "3.1.4-r6"},
		},
		{
			name: "rpm_epoch_record_without_installed_epoch", ecosystem: "Red Hat:enterprise_linux:9::baseos", version: "3.0.7-24.el9",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Red Hat:enterprise_linux:9::baseos", Name: "openssl"}, Ranges: []osv.Range{rng("ECOSYSTEM", "introduced:0", "fixed:1:3.0.7-25.el9_3")}},
			want:     matchResult{true, "1:3.0.7-25.el9_3"},
		},
		{
			name: "ubuntu_ecosystem", ecosystem: "Ubuntu:22.04:LTS", version: "1.2.11.dfsg-2ubuntu9",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Ubuntu:22.04:LTS", Name: "zlib"}, Ranges: []osv.Range{rng("ECOSYSTEM", "introduced:0", "fixed:1:1.2.11.dfsg-2ubuntu9.2")}},
			want:     matchResult{true, "1:1.2.11.dfsg-2ubuntu9.2"},
		},
		{
			name: "maven", ecosystem: "Maven", version: "2.14.1",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Maven", Name: "org.apache.logging.log4j:log4j-core"}, Ranges: []osv.Range{
				rng("ECOSYSTEM", "introduced:2.13.0", "fixed:2.15.0", "introduced:2.0-beta9", "fixed:2.3.1", "introduced:2.4", "fixed:2.12.2"),
			}},
			want: matchResult{true, "2.15.0"},
		},
		{
			name: "record_without_ecosystem_uses_argument", ecosystem: "npm", version: "1.0.0",
			affected: osv.Affected{Package: osv.Package{Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "introduced:0", "fixed:1.0.1")}},
			want:     matchResult{true, "1.0.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vuln, fixed, err := Affected(tt.ecosystem, tt.version, tt.affected)
			if err != nil {
				t.Fatalf("Affected: %v", err)
			}
			if diff := cmp.Diff(tt.want, matchResult{vuln, fixed}); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestAffectedErrors(t *testing.T) {
	good := rng("ECOSYSTEM", "introduced:0", "fixed:1.0")
	tests := []struct {
		name      string
		ecosystem string
		version   string
		affected  osv.Affected
		wantIs    error
		wantText  string
	}{
		{
			name: "unsupported_ecosystem", ecosystem: "Gentoo", version: "1.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Gentoo", Name: "x"}, Ranges: []osv.Range{good}},
			wantIs:   ErrUnsupportedEcosystem, wantText: `"Gentoo"`,
		},
		{
			name: "ecosystem_mismatch", ecosystem: "Debian:12", version: "1.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Alpine:v3.19", Name: "x"}, Ranges: []osv.Range{good}},
			wantText: "different ecosystems",
		},
		{
			name: "go_devel_version", ecosystem: "Go", version: "(devel)",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Go", Name: "example.com/m"}, Ranges: []osv.Range{rng("SEMVER", "introduced:0")}},
			wantIs:   ErrInvalidVersion, wantText: `"(devel)"`,
		},
		{
			name: "go_stdlib_devel", ecosystem: "Go", version: "devel go1.23-abcdef Mon Jan 1",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Go", Name: "stdlib"}, Ranges: []osv.Range{rng("SEMVER", "introduced:0")}},
			wantIs:   ErrInvalidVersion,
		},
		{
			name: "installed_not_debian_version", ecosystem: "Debian:12", version: "1.0-1:x!",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Debian:12", Name: "x"}, Ranges: []osv.Range{good}},
			wantIs:   ErrInvalidVersion, wantText: `"1.0-1:x!"`,
		},
		{
			name: "bad_event_version", ecosystem: "Debian:12", version: "1.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "Debian:12", Name: "x"}, Ranges: []osv.Range{rng("ECOSYSTEM", "introduced:0", "fixed:x:1")}},
			wantIs:   ErrInvalidVersion, wantText: "range 0 event 1: fixed",
		},
		{
			name: "event_with_two_fields", ecosystem: "npm", version: "1.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{{Type: "SEMVER", Events: []osv.Event{{Introduced: "1.0.0", Fixed: "1.0.2"}}}}},
			wantText: "want exactly one of",
		},
		{
			name: "empty_event", ecosystem: "npm", version: "1.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{{Type: "SEMVER", Events: []osv.Event{{Introduced: "0"}, {}}}}},
			wantText: "got 0",
		},
		{
			name: "no_introduced", ecosystem: "npm", version: "1.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{rng("SEMVER", "fixed:1.0.1")}},
			wantText: "no introduced event",
		},
		{
			name: "unknown_range_type", ecosystem: "npm", version: "1.0.0",
			affected: osv.Affected{Package: osv.Package{Ecosystem: "npm", Name: "x"}, Ranges: []osv.Range{{Type: "DATE", Events: []osv.Event{{Introduced: "0"}}}}},
			wantText: `unknown range type "DATE"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vuln, fixed, err := Affected(tt.ecosystem, tt.version, tt.affected)
			if err == nil {
				t.Fatalf("Affected = %v, %q, nil; want an error", vuln, fixed)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if vuln || fixed != "" {
				t.Errorf("got %v, %q alongside the error; want false, \"\"", vuln, fixed)
			}
		})
	}
}

func TestGoReleaseToSemver(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"go1.21.5", "1.21.5", true},
		{"go1.21", "1.21.0", true},
		{"go1.22rc1", "1.22.0-rc.1", true},
		{"go1.20beta1", "1.20.0-beta.1", true},
		{"go1.9.2rc2", "1.9.2-rc.2", true},
		{"go1.22.1 X:nocoverageredesign", "1.22.1", true},
		{"go1.21.5-bigcorp", "1.21.5", true},
		{"1.21.5", "1.21.5", true},
		{"v1.21", "1.21.0", true},
		{"1.16.0-0", "1.16.0-0", true},
		{"go1", "", false},
		{"go1.x", "", false},
		{"go1.22rc", "", false},
		{"devel go1.23-abc", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(strings.NewReplacer(" ", "_").Replace(tt.in), func(t *testing.T) {
			got, ok := goReleaseToSemver(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("goReleaseToSemver(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestMatcherReuse checks that a compiled Matcher gives the same answers as
// Affected over every version of a record's versions list.
func TestMatcherReuse(t *testing.T) {
	v := loadRecord(t, "PYSEC-2015-11")
	a := affectedEntry(t, v, "django")
	m, err := Compile(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Versions) == 0 {
		t.Fatal("record has no versions list")
	}
	for _, ver := range a.Versions {
		gotV, gotF, err := m.Match(ver)
		if err != nil {
			t.Fatal(err)
		}
		wantV, wantF, err := Affected("PyPI", ver, a)
		if err != nil {
			t.Fatal(err)
		}
		if gotV != wantV || gotF != wantF {
			t.Errorf("%s: Matcher %v %q, Affected %v %q", ver, gotV, gotF, wantV, wantF)
		}
		if !gotV {
			t.Errorf("%s is in the versions list but not reported affected", ver)
		}
	}
}
