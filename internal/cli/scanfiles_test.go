package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/respond/audit"
	"github.com/vigilsec/vigil/internal/respond/quarantine"
)

// testEICAR is the EICAR anti-virus test file (hash-listed in
// rules/yara/known-bad.sha256), assembled at run time.
func testEICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR` + `-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}

func runScanFilesCmd(t *testing.T, g *globals, args ...string) (string, error) {
	t.Helper()
	cmd := newScanCommand(g)
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(append([]string{"files"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func scanFilesTree(t *testing.T) (dir, shell, eicar string) {
	t.Helper()
	dir = t.TempDir()
	shell = filepath.Join(dir, "www", "up.php")
	eicar = filepath.Join(dir, "dl", "eicar.com")
	for p, b := range map[string][]byte{
		shell:                         []byte("<?php @eval($_POST['x']); ?>\n"),
		eicar:                         testEICAR(),
		filepath.Join(dir, "ok.txt"):  []byte("hello\n"),
		filepath.Join(dir, "bin.dat"): {0, 1, 2, 0xff},
	} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink("loop", filepath.Join(dir, "loop"))
	return dir, shell, eicar
}

func TestScanFilesJSON(t *testing.T) {
	dir, shell, eicar := scanFilesTree(t)
	g := &globals{dataDir: t.TempDir(), format: formatJSON, logLevel: "warn"}
	out, err := runScanFilesCmd(t, g, dir, filepath.Join(dir, "missing"), "--rate", "0")
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	keys := []string{}
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"errors", "findings", "scanned"}) {
		t.Errorf("top-level keys %v, want exactly errors, findings, scanned", keys)
	}
	var rep struct {
		Findings []struct {
			Path, Kind, Rule, SHA256 string
			Score                    float64
			Evidence                 []string
		}
		Scanned int
		Errors  []struct{ Path, Error string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range rep.Findings {
		got[f.Path] = f.Kind + " " + f.Rule
		if len(f.SHA256) != 64 || f.Score <= 0 || len(f.Evidence) == 0 {
			t.Errorf("finding %+v", f)
		}
	}
	if got[shell] != "webshell VGL-WEBSHELL-YARA-PHP-EXEC" && !strings.HasPrefix(got[shell], "webshell ") {
		t.Errorf("shell: %q", got[shell])
	}
	if got[eicar] != "malware VGL-MALWARE-IOC-SHA256" || len(got) != 2 {
		t.Errorf("findings %v", got)
	}
	if rep.Scanned != 4 || len(rep.Errors) != 1 || rep.Errors[0].Path != filepath.Join(dir, "missing") || !strings.Contains(rep.Errors[0].Error, "no such file") {
		t.Errorf("scanned %d errors %+v", rep.Scanned, rep.Errors)
	}

	// --exit-code turns findings into a status; the table is the default.
	g.format = formatTable
	out, err = runScanFilesCmd(t, g, dir, "--exit-code", "3")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Errorf("--exit-code 3: err = %v", err)
	}
	for _, want := range []string{"Malware scan findings", shell, eicar, "VGL-MALWARE-IOC-SHA256", "scanned 4 files"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range [][]string{{dir, "--rate", "fast"}, {dir, "--max-size", "0"}, {dir, "--workers", "0"}, {}} {
		var ue *UserError
		if _, err := runScanFilesCmd(t, g, bad...); !errors.As(err, &ue) && !(len(bad) == 0 && err != nil) {
			t.Errorf("%v: err = %v, want a usage error", bad, err)
		}
	}
	g.format = formatSARIF
	var ue *UserError
	if _, err := runScanFilesCmd(t, g, dir); !errors.As(err, &ue) {
		t.Errorf("--format sarif: err = %v, want a usage error", err)
	}
}

func TestScanFilesQuarantine(t *testing.T) {
	dir, shell, eicar := scanFilesTree(t)
	data := t.TempDir()
	g := &globals{dataDir: data, format: formatJSON, logLevel: "warn"}
	out, err := runScanFilesCmd(t, g, dir, "--quarantine")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{shell, eicar} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still in place: %v", p, err)
		}
	}
	s, err := quarantine.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := s.List()
	if err != nil || len(entries) != 2 {
		t.Fatalf("quarantine holds %+v, %v", entries, err)
	}
	for _, m := range entries {
		if m.RuleID == "" || m.AlertID == "" || !strings.Contains(out, m.ID) {
			t.Errorf("entry %+v not reported in %s", m, out)
		}
	}
	log, err := os.ReadFile(filepath.Join(data, audit.FileName))
	if err != nil || strings.Count(string(log), `"quarantine"`) != 2 {
		t.Errorf("audit log: %v\n%s", err, log)
	}
	// A scan of the data directory does not find the vault's content.
	out, err = runScanFilesCmd(t, g, data, dir)
	if err != nil || !strings.Contains(out, `"findings": []`) {
		t.Errorf("rescan: %v\n%s", err, out)
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "123": 123, "50MiB": 50 << 20, "1G": 1 << 30, "2KB/s": 2000, "10 MB": 10e6} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "x", "1.5M", "99999999999999G"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) succeeded", in)
		}
	}
}

func TestRulesImportCommand(t *testing.T) {
	data := t.TempDir()
	src := t.TempDir()
	yar := filepath.Join(src, "site.yar")
	os.WriteFile(yar, []byte("rule Site_CLI_Marker { strings: $a = \"cli-marker-9q\" condition: $a }\n"), 0o644)
	g := &globals{dataDir: data, format: formatTable, logLevel: "warn"}
	run := func(args ...string) (string, error) {
		cmd := newRulesCommand(g)
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append([]string{"import"}, args...))
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run(yar)
	if err != nil || !strings.Contains(out, "new") || !strings.Contains(out, "site.yar") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	g.format = formatJSON
	out, err = run(yar)
	if err != nil || !strings.Contains(out, `"status": "unchanged"`) {
		t.Errorf("re-import: %v\n%s", err, out)
	}
	bad := filepath.Join(src, "bad.yar")
	os.WriteFile(bad, []byte("rule {\n"), 0o644)
	var ue *UserError
	if _, err := run(bad); !errors.As(err, &ue) || !strings.Contains(err.Error(), "bad.yar:") {
		t.Errorf("bad rule: %v", err)
	}
	// The imported rule is used by scan files.
	target := filepath.Join(t.TempDir(), "m.txt")
	os.WriteFile(target, []byte("x cli-marker-9q x"), 0o644)
	g.format = formatJSON
	out, err = runScanFilesCmd(t, g, target)
	if err != nil || !strings.Contains(out, "YARA:Site_CLI_Marker") {
		t.Errorf("scan with imported rule: %v\n%s", err, out)
	}
}
