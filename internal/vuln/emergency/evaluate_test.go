package emergency

import (
	"archive/zip"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/extractor/list"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/testutil"
)

// loadExamples parses every shipped check (TestExamplesSmoke).
func loadExamples(t *testing.T) map[string]*Check {
	t.Helper()
	paths, err := filepath.Glob("../../../checks/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no shipped checks found: %v", err)
	}
	out := map[string]*Check{}
	for _, p := range paths {
		cs, err := Load(p)
		if err != nil {
			t.Fatalf("Load(%s): %v", p, err)
		}
		out[cs[0].ID] = cs[0]
	}
	return out
}

// scanDir runs the real extractors over a tree, as `vigil scan rootfs`.
func scanDir(t *testing.T, dir string) *Input {
	t.Helper()
	root := os.DirFS(dir)
	res, err := (&scan.Walker{Extractors: list.All.Build()}).Walk(context.Background(), root, dir)
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if osr, err := image.DetectOS(root); err == nil {
		scan.SetOSEcosystem(res.Packages, osr)
	}
	return &Input{Root: root, RootPath: dir, Packages: res.Packages}
}

// summary is what a responder reads first in a finding.
type summary struct {
	ID, Package, Version, Fixed, Command string
	Locations                            []string
	NoteHas                              []string
}

func summarize(fs []finding.Finding, notes [][]string) []summary {
	var out []summary
	for i, f := range fs {
		s := summary{ID: f.Advisory.ID, Package: f.Target.Package.Name, Version: f.Target.Package.Version,
			Fixed: f.FixedVersion, Command: f.Remediation.Command, Locations: f.Target.Package.Locations}
		if i < len(notes) {
			for _, n := range notes[i] {
				if strings.Contains(f.Remediation.Note, n) {
					s.NoteHas = append(s.NoteHas, n)
				}
			}
		}
		out = append(out, s)
	}
	return out
}

func TestExamplesSmoke(t *testing.T) {
	checks := loadExamples(t)
	for _, id := range []string{"VIGIL-EMERGENCY-2024-6387", "VIGIL-EMERGENCY-2021-44228"} {
		if checks[id] == nil {
			t.Errorf("shipped check %s missing", id)
		}
	}
	for id, c := range checks {
		if c.Severity.String() == "unspecified" || len(c.References) == 0 || len(c.Aliases) == 0 || c.Remediation == "" {
			t.Errorf("%s: want severity, references, aliases and remediation", id)
		}
	}
}

func TestRegreSSHion(t *testing.T) {
	c := loadExamples(t)["VIGIL-EMERGENCY-2024-6387"]
	const dsa = "Debian:12 package openssh-server 1:9.2p1-2+deb12u2 is in the affected versions (../../../checks/regresshion-cve-2024-6387.yaml:31)."
	const notChecked = "Not checked: a process with exe ending in \"/sshd\" listening: not a live host"
	tests := []struct {
		name string
		tree string
		want []summary
	}{
		{
			name: "debian12_vulnerable",
			tree: "testdata/debian-vulnerable.txtar",
			want: []summary{
				{ID: c.ID, Package: "openssh-client", Version: "1:9.2p1-2+deb12u2", Fixed: "1:9.2p1-2+deb12u3",
					Command: "apt-get install --only-upgrade openssh-client=1:9.2p1-2+deb12u3",
					NoteHas: []string{notChecked}},
				{ID: c.ID, Package: "openssh-server", Version: "1:9.2p1-2+deb12u2", Fixed: "1:9.2p1-2+deb12u3",
					Command: "apt-get install --only-upgrade openssh-server=1:9.2p1-2+deb12u3",
					NoteHas: []string{dsa, notChecked}},
			},
		},
		{name: "debian12_fixed", tree: "testdata/debian-fixed.txtar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := scanDir(t, testutil.TxtarToDir(t, tt.tree))
			got, err := c.Evaluate(context.Background(), in)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			notes := [][]string{{dsa, notChecked}, {dsa, notChecked}}
			if diff := cmp.Diff(tt.want, summarize(got, notes)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			for _, f := range got {
				if f.Source.Plugin != Name || f.Advisory.Severity.String() != "critical" || f.Advisory.CVSS.Score != 8.1 ||
					!cmp.Equal(f.Advisory.Aliases, []string{"CVE-2024-6387"}) {
					t.Errorf("finding advisory/source = %+v %+v", f.Advisory, f.Source)
				}
			}
		})
	}
}

// jar builds a zip archive of the named entries.
func jar(t *testing.T, entries map[string][]byte, stored bool) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for name, data := range entries {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if stored {
			h.Method = zip.Store
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const jndi = "org/apache/logging/log4j/core/lookup/JndiLookup.class"

var classBytes = []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52}

func pom(group, artifact, version string) (string, []byte) {
	return "META-INF/maven/" + group + "/" + artifact + "/pom.properties",
		[]byte("#Created by Apache Maven 3.6.3\nversion=" + version + "\ngroupId=" + group + "\nartifactId=" + artifact + "\n")
}

func log4jCore(t *testing.T, version string, withClass bool) []byte {
	n, p := pom("org.apache.logging.log4j", "log4j-core", version)
	e := map[string][]byte{n: p, "META-INF/MANIFEST.MF": []byte("Manifest-Version: 1.0\r\n\r\n"),
		"org/apache/logging/log4j/core/Logger.class": classBytes}
	if withClass {
		e[jndi] = classBytes
	}
	return jar(t, e, false)
}

func writeFiles(t *testing.T, files map[string][]byte) string {
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLog4Shell(t *testing.T) {
	c := loadExamples(t)["VIGIL-EMERGENCY-2021-44228"]
	const log4j = "org.apache.logging.log4j:log4j-core"
	appPomName, appPom := pom("com.example", "billing", "1.4.0")
	shaded := func(t *testing.T) []byte {
		// maven-shade with the log4j metadata filtered out; the class
		// relocated under the app's package.
		return jar(t, map[string][]byte{appPomName: appPom,
			"com/example/billing/Main.class":      classBytes,
			"com/example/shaded/" + jndi:          classBytes,
			"com/example/shaded/org/apache/x.txt": []byte("x")}, false)
	}
	tests := []struct {
		name  string
		files func(t *testing.T) map[string][]byte
		want  []summary
		notes [][]string
	}{
		{
			name: "shaded_jar_without_metadata",
			files: func(t *testing.T) map[string][]byte {
				return map[string][]byte{"opt/billing/billing-all.jar": shaded(t)}
			},
			want: []summary{{ID: c.ID, Package: log4j, Locations: []string{"/opt/billing/billing-all.jar"},
				NoteHas: []string{"/opt/billing/billing-all.jar contains " + jndi, "The archive is com.example:billing 1.4.0."}}},
			notes: [][]string{{"/opt/billing/billing-all.jar contains " + jndi, "The archive is com.example:billing 1.4.0."}},
		},
		{
			name: "fixed_log4j_core_2_17_1",
			files: func(t *testing.T) map[string][]byte {
				return map[string][]byte{"opt/app/lib/log4j-core-2.17.1.jar": log4jCore(t, "2.17.1", true)}
			},
		},
		{
			name: "vulnerable_log4j_core_2_14_1",
			files: func(t *testing.T) map[string][]byte {
				return map[string][]byte{"opt/app/lib/log4j-core-2.14.1.jar": log4jCore(t, "2.14.1", true)}
			},
			want: []summary{{ID: c.ID, Package: log4j, Version: "2.14.1", Fixed: "2.15.0",
				Locations: []string{"opt/app/lib/log4j-core-2.14.1.jar"}, NoteHas: []string{"JndiLookup.class is present in /opt/app/lib/log4j-core-2.14.1.jar."}}},
			notes: [][]string{{"JndiLookup.class is present in /opt/app/lib/log4j-core-2.14.1.jar."}},
		},
		{
			name: "java7_branch_2_12_1_fixed_in_2_12_2_class_removed",
			files: func(t *testing.T) map[string][]byte {
				return map[string][]byte{"srv/log4j-core-2.12.1.jar": log4jCore(t, "2.12.1", false)}
			},
			want: []summary{{ID: c.ID, Package: log4j, Version: "2.12.1", Fixed: "2.12.2",
				Locations: []string{"srv/log4j-core-2.12.1.jar"}, NoteHas: []string{"absent from /srv/log4j-core-2.12.1.jar: mitigated"}}},
			notes: [][]string{{"absent from /srv/log4j-core-2.12.1.jar: mitigated"}},
		},
		{
			name: "shaded_jar_nested_in_war",
			files: func(t *testing.T) map[string][]byte {
				return map[string][]byte{"var/lib/tomcat9/webapps/billing.war": jar(t, map[string][]byte{
					"WEB-INF/web.xml": []byte("<web-app/>"), "WEB-INF/lib/billing-all.jar": shaded(t)}, false)}
			},
			want: []summary{{ID: c.ID, Package: log4j,
				Locations: []string{"/var/lib/tomcat9/webapps/billing.war!WEB-INF/lib/billing-all.jar"}}},
		},
		{
			name: "unrelated_jar",
			files: func(t *testing.T) map[string][]byte {
				n, p := pom("org.slf4j", "slf4j-api", "2.0.9")
				return map[string][]byte{"opt/x/slf4j-api-2.0.9.jar": jar(t, map[string][]byte{n: p}, true)}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := scanDir(t, writeFiles(t, tt.files(t)))
			got, err := c.Evaluate(context.Background(), in)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(got, tt.notes)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLiveProcessListening(t *testing.T) {
	testutil.RequireRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	suffix := "/" + filepath.Base(exe)
	mk := func(exposed bool) *Check {
		y := "id: T-1\ntitle: t\nseverity: high\nconditions:\n  - process_listening: {exe_suffix: \"" + suffix + "\", exposed: " +
			map[bool]string{true: "true", false: "false"}[exposed] + "}\n"
		c, err := Parse("live.yml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	in := &Input{Root: os.DirFS("/"), RootPath: "/", Live: true, SkipDirs: scan.HostSkipDirs}
	got, err := EvaluateAll(context.Background(), []*Check{mk(false), mk(true)}, in)
	if err != nil {
		t.Fatalf("EvaluateAll: %v", err)
	}
	// Loopback is not exposed: only the first check holds.
	if len(got) != 1 {
		t.Fatalf("got %d findings, want 1: %+v", len(got), got)
	}
	want := ln.Addr().String() + "/tcp (local only)"
	if n := got[0].Remediation.Note; !strings.Contains(n, want) || !strings.Contains(n, exe) {
		t.Errorf("note %q lacks %q and %q", n, want, exe)
	}
	if !cmp.Equal(got[0].Target.Package, inventory.Package{}) {
		t.Errorf("conditions-only finding has a package: %+v", got[0].Target.Package)
	}
}
