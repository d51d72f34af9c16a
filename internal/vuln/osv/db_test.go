package osv

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/vuln/epss"
	"github.com/vigilsec/vigil/internal/vuln/kev"
)

// importFixtures imports the Go zip (with one malformed record), the PyPI
// YAML zip, the KEV catalogue and EPSS scores into a new data dir.
func importFixtures(t *testing.T) (string, *Report, error) {
	t.Helper()
	src := t.TempDir()
	gz := goZip(t, src, zipFile{"GO-2099-0001.json", []byte(`{"id": "GO-2099-0001", "affected": [`)})
	pz := writeZip(t, filepath.Join(src, "pypa-advisories-yaml.zip"), txtarFiles(t, "pypi-records.txtar"))
	dir := t.TempDir()
	rep, err := Import(context.Background(), dir, []string{gz, pz, kevFixture, epssFixture}, nil)
	return dir, rep, err
}

func TestImportFixtures(t *testing.T) {
	dir, rep, err := importFixtures(t)
	var pe *plugin.PartialError
	if !errors.As(err, &pe) {
		t.Fatalf("Import error = %v, want a PartialError for the malformed record", err)
	}
	if diff := cmp.Diff([]string{"all.zip: GO-2099-0001.json: unexpected end of JSON input"}, pe.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	wantRep := &Report{Records: 18, Skipped: 1, Ecosystems: []string{"Go", "PyPI"}, KEV: 8, EPSS: 8}
	if diff := cmp.Diff(wantRep, rep, cmpopts.IgnoreFields(Report{}, "Duration")); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}

	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	t.Run("lookup", func(t *testing.T) {
		for _, tc := range []struct {
			eco, name string
			want      []string
		}{
			{"Go", "stdlib", []string{"GO-2021-0067", "GO-2022-0535", "GO-2022-0969", "GO-2023-2102", "GO-2024-2687"}},
			{"Go", "golang.org/x/net", []string{"GO-2022-0969", "GO-2023-2102", "GO-2024-2687"}},
			{"Go", "github.com/coder/coder/v2", []string{"GO-2024-3228"}},
			{"Go", "github.com/moby/moby", []string{"GO-2022-0390"}},
			{"Go", "k8s.io/kubernetes", []string{"GO-2022-0617"}}, // withdrawn, still returned
			{"Go", "github.com/not/vulnerable", nil},
			{"go", "stdlib", nil}, // ecosystems are case-sensitive, as OSV names them
			{"PyPI", "oslo.middleware", []string{"PYSEC-2018-104"}},
			{"PyPI", "Oslo_Middleware", []string{"PYSEC-2018-104"}},
			{"PyPI", "PyYAML", []string{"PYSEC-2020-176"}},
			{"PyPI", "redis", []string{"PYSEC-2023-73"}},
			{"npm", "lodash", nil},
		} {
			t.Run(tc.eco+"/"+strings.ReplaceAll(tc.name, "/", "_"), func(t *testing.T) {
				got, err := db.Lookup(tc.eco, tc.name)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, ids(got)); diff != "" {
					t.Errorf("Lookup(%q, %q) IDs (-want +got):\n%s", tc.eco, tc.name, diff)
				}
			})
		}
	})

	t.Run("withdrawn_flagged", func(t *testing.T) {
		vs, _ := db.Lookup("PyPI", "redis")
		if len(vs) != 1 || !vs[0].Withdrawn.Equal(time.Date(2023, 6, 6, 10, 37, 0, 0, time.UTC)) {
			t.Errorf("redis record withdrawn = %v, want 2023-06-06T10:37:00Z", vs)
		}
	})

	t.Run("aliases", func(t *testing.T) {
		for alias, want := range map[string][]string{
			"CVE-2023-39325":      {"GO-2023-2102"},
			"GHSA-2mm7-x5h6-5pvq": {"GO-2022-0390"},
			"CVE-2019-17400":      {"PYSEC-2019-213"},
			"CVE-2020-0601":       {"GO-2022-0535"},
			"CVE-1999-9999":       nil,
		} {
			got, err := db.Aliases(alias)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Aliases(%q) (-want +got):\n%s", alias, diff)
			}
		}
	})

	t.Run("kev", func(t *testing.T) {
		e, ok, err := db.KEV("CVE-2020-0601")
		want := kev.Entry{CVE: "CVE-2020-0601", DateAdded: time.Date(2021, 11, 3, 0, 0, 0, 0, time.UTC), DueDate: time.Date(2020, 1, 29, 0, 0, 0, 0, time.UTC)}
		if err != nil || !ok {
			t.Fatalf("KEV: %v %v", ok, err)
		}
		if diff := cmp.Diff(want, e); diff != "" {
			t.Errorf("KEV (-want +got):\n%s", diff)
		}
		if _, ok, _ := db.KEV("CVE-2023-39325"); ok {
			t.Errorf("CVE-2023-39325 is not in the KEV fixture")
		}
	})

	t.Run("epss", func(t *testing.T) {
		s, ok, err := db.EPSS("CVE-2023-44487")
		if err != nil || !ok {
			t.Fatalf("EPSS: %v %v", ok, err)
		}
		if diff := cmp.Diff(epss.Score{CVE: "CVE-2023-44487", EPSS: 0.94488, Percentile: 0.99993}, s); diff != "" {
			t.Errorf("EPSS (-want +got):\n%s", diff)
		}
		if _, ok, _ := db.EPSS("CVE-2023-0001"); ok {
			t.Errorf("CVE-2023-0001 has no EPSS row")
		}
	})

	t.Run("status", func(t *testing.T) {
		st := db.Status()
		type eco struct {
			Name                         string
			Records, Packages, Withdrawn int
		}
		var got []eco
		for _, e := range st.Ecosystems {
			got = append(got, eco{e.Ecosystem, e.Records, e.Packages, e.Withdrawn})
			if e.Imported.IsZero() || len(e.Sources) != 1 {
				t.Errorf("%s: imported %v from %v", e.Ecosystem, e.Imported, e.Sources)
			}
		}
		want := []eco{{"Go", 11, 10, 2}, {"PyPI", 7, 7, 1}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("status (-want +got):\n%s", diff)
		}
		if st.KEV == nil || st.KEV.Entries != 8 || st.KEV.CatalogVersion != "2025.08.25" {
			t.Errorf("KEV status %+v", st.KEV)
		}
		if st.EPSS == nil || st.EPSS.Rows != 8 || st.EPSS.ModelVersion != "v2025.03.14" || st.EPSS.ScoreDate.IsZero() {
			t.Errorf("EPSS status %+v", st.EPSS)
		}
	})
}

// TestLookupRoundTrip checks that every fixture record comes back from
// the index as decoded from its source, minus what the index drops, with
// exactly its affected entries for the package looked up.
func TestLookupRoundTrip(t *testing.T) {
	dir, _, err := importFixtures(t)
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var records []*Vulnerability
	for _, f := range txtarFiles(t, "go-records.txtar") {
		v, err := DecodeJSON(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		records = append(records, v)
	}
	for _, f := range txtarFiles(t, "pypi-records.txtar") {
		v, err := DecodeYAML(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		records = append(records, v)
	}
	opts := []cmp.Option{cmpopts.EquateEmpty(), cmpopts.EquateApproxTime(0)}
	for _, want := range records {
		for _, a := range want.Affected {
			t.Run(want.ID+"/"+strings.ReplaceAll(a.Package.Name, "/", "_"), func(t *testing.T) {
				vs, err := db.Lookup(a.Package.Ecosystem, a.Package.Name)
				if err != nil {
					t.Fatal(err)
				}
				var got *Vulnerability
				for i := range vs {
					if vs[i].ID == want.ID {
						got = &vs[i]
					}
				}
				if got == nil {
					t.Fatalf("Lookup(%q, %q) lacks %s", a.Package.Ecosystem, a.Package.Name, want.ID)
				}
				w := *want
				w.Details, w.References, w.DatabaseSpecific, w.Affected = "", nil, nil, nil
				for _, wa := range want.Affected {
					if wa.Package.Name == a.Package.Name {
						w.Affected = append(w.Affected, wa)
					}
				}
				if diff := cmp.Diff(w, *got, opts...); diff != "" {
					t.Errorf("record (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestDebianSourcePackages imports a record in the Debian OSV format
// (hand-written in its shape: source package name, "Debian:N"
// ecosystems, epoch and tilde versions) and looks it up by source
// package, with every release's entries returned.
func TestDebianSourcePackages(t *testing.T) {
	src := t.TempDir()
	rec := `{
  "id": "DEBIAN-CVE-2024-6387",
  "modified": "2024-07-02T10:00:00Z",
  "published": "2024-07-01T13:15:00Z",
  "upstream": ["CVE-2024-6387"],
  "affected": [
    {"package": {"ecosystem": "Debian:12", "name": "openssh"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:9.2p1-2+deb12u3"}]}]},
    {"package": {"ecosystem": "Debian:13", "name": "openssh"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:9.7p1-7"}]}]},
    {"package": {"ecosystem": "Debian:11", "name": "openssh"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1:8.4p1-5+deb11u3~bpo1"}]}]}
  ]
}`
	if err := os.MkdirAll(filepath.Join(src, "debian", "2024"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(src, "debian", "2024", "DEBIAN-CVE-2024-6387.json")
	if err := os.WriteFile(p, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := Import(context.Background(), dir, []string{src}, nil); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, err := db.Lookup("Debian:12", "openssh")
	if err != nil || len(vs) != 1 {
		t.Fatalf("Lookup(Debian:12, openssh) = %v, %v", vs, err)
	}
	var got []string
	for _, a := range vs[0].Affected {
		got = append(got, a.Package.Ecosystem+" "+a.Ranges[0].Events[1].Fixed)
	}
	want := []string{"Debian:12 1:9.2p1-2+deb12u3", "Debian:13 1:9.7p1-7", "Debian:11 1:8.4p1-5+deb11u3~bpo1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("affected (-want +got):\n%s", diff)
	}
	if vs, _ := db.Lookup("Debian:12", "openssh-server"); len(vs) != 0 {
		t.Errorf("binary package name matched: %v", ids(vs))
	}
	if got, _ := db.Aliases("CVE-2024-6387"); !cmp.Equal(got, []string{"DEBIAN-CVE-2024-6387"}) {
		t.Errorf("Aliases(CVE-2024-6387) = %v (upstream IDs are indexed)", got)
	}
}
