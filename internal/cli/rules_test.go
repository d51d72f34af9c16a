package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/vigilsec/vigil/internal/detect"
)

const goodRules = `lists:
  shells: [/bin/sh, /usr/bin/bash]
rules:
  - id: VGL-EXEC-SOCKET-SHELL
    version: 1
    title: Shell on a socket
    description: A shell whose stdin is a socket; keys on the exe path list, not the name.
    severity: critical
    attack: {tactics: [TA0002], techniques: [T1059.004]}
    events: [exec]
    condition: proc.exe in lists.shells && proc.stdin == 'socket'
    evidence: {exe: proc.exe}
  - id: VGL-NET-POOL
    version: 2
    title: Mining pool
    description: A connection whose destination is in the mining pool IOC list.
    severity: high
    attack: {tactics: [TA0040], techniques: [T1496]}
    events: [connect]
    condition: ioc('pools', net.dst_ip)
tests:
  - name: socket shell
    events:
      - kind: exec
        proc: {pid: 1, exec_id: "a", exe: /bin/sh, stdin: socket}
    expect:
      - rule: VGL-EXEC-SOCKET-SHELL
        evidence: {exe: /bin/sh}
  - name: tty shell
    events:
      - kind: exec
        proc: {pid: 1, exec_id: "a", exe: /bin/sh, stdin: tty}
    expect: []
  - name: pool
    events:
      - kind: connect
        net: {family: ipv4, protocol: tcp, dst_ip: 10.9.9.9, dst_port: 3333}
    expect:
      - rule: VGL-NET-POOL
`

const failingRules = `rules:
  - id: VGL-EXEC-ANY
    version: 1
    title: Any exec
    description: Every exec, for the test of the test runner.
    severity: low
    attack: {tactics: [TA0002]}
    events: [exec]
    condition: "true"
    evidence: {exe: proc.exe}
tests:
  - name: wrong evidence
    events:
      - kind: exec
        proc: {exe: /bin/true}
    expect:
      - rule: VGL-EXEC-ANY
        evidence: {exe: /bin/false}
  - name: missing alert
    events:
      - kind: fork
        proc: {exe: /bin/true}
    expect:
      - rule: VGL-EXEC-ANY
`

const lintBadRules = `rules:
  - id: vgl-lower
    version: 0
    title: Bad
    description: ""
    severity: severe
    attack: {tactics: [T0002], techniques: [TA1059]}
    events: [exec, teleport]
    condition: proc.exe
    response: {action: nuke}
`

func writeRules(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rulesCmd runs `vigil [--format f] rules args…` through the rules command.
func rulesCmd(t *testing.T, format string, args ...string) (string, error) {
	t.Helper()
	g := &globals{logLevel: "warn", format: format}
	cmd := newRulesCommand(g)
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.Execute()
	return out.String(), err
}

func exitCode(err error) int {
	var ee *ExitError
	var ue *UserError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue):
		return 2
	}
	return -1
}

func TestRulesLintAndTest(t *testing.T) {
	good := writeRules(t, map[string]string{"good.yaml": goodRules, "ioc/pools.txt": "# pools\n10.9.9.9\npool.example\n"})
	failing := writeRules(t, map[string]string{"failing.yaml": failingRules})
	bad := writeRules(t, map[string]string{"bad.yaml": lintBadRules})
	unknownKey := writeRules(t, map[string]string{"k.yaml": "rules:\n  - id: VGL-A-B\n    severity: low\n    colour: red\n"})
	noIOC := writeRules(t, map[string]string{"good.yaml": goodRules})

	tests := []struct {
		name     string
		args     []string
		format   string
		wantCode int
		want     []string // substrings of the output or error
	}{
		{"lint_ok_dir", []string{"lint", good}, "table", 0, []string{"ok  2 rules in 1 files"}},
		{"lint_ok_file", []string{"lint", filepath.Join(good, "good.yaml")}, "table", 0, []string{"ok  2 rules in 1 files"}},
		{"lint_problems", []string{"lint", bad}, "table", 1, []string{
			filepath.Join(bad, "bad.yaml") + ":2: vgl-lower: id \"vgl-lower\": want PREFIX-NAME",
			":3: vgl-lower: version 0: want 1 or more",
			":5: vgl-lower: description: missing",
			":6: vgl-lower: severity \"severe\"",
			`attack.tactics "T0002"`, `attack.techniques "TA1059"`,
			`events: unknown kind "teleport"`,
			":9: vgl-lower: condition: result is string, want bool",
			`response.action "nuke"`,
			"no test expects this rule to fire",
			"rules lint: 10 problems",
		}},
		{"lint_unknown_key", []string{"lint", unknownKey}, "table", 1, []string{"k.yaml:4: VGL-A-B: field colour not found in type rule"}},
		{"lint_unknown_ioc_set", []string{"lint", noIOC}, "table", 1, []string{`unknown IOC set "pools"`}},
		{"lint_json", []string{"lint", bad}, "json", 1, []string{`"problems": [`, `"line": 6`, `"rule": "vgl-lower"`}},
		{"test_ok", []string{"test", good}, "table", 0, []string{"ok    " + filepath.Join(good, "good.yaml") + "  3 tests"}},
		{"test_failures", []string{"test", failing}, "table", 1, []string{
			"FAIL  " + filepath.Join(failing, "failing.yaml"),
			"2 tests, 2 failed",
			`alert 1 (VGL-EXEC-ANY): evidence "exe" = "/bin/true", want "/bin/false"`,
			"alerts: got [], want [VGL-EXEC-ANY]",
			"got:  []",
			"rules test: 2 of 2 tests failed",
		}},
		{"test_json", []string{"test", failing}, "json", 1, []string{`"passed": false`, `"failed": 2`, `"name": "missing alert"`}},
		{"test_broken_rules", []string{"test", bad}, "table", 1, []string{"vgl-lower"}},
		{"missing_path", []string{"lint", filepath.Join(good, "nope.yaml")}, "table", 2, []string{"no such file"}},
		{"bad_format", []string{"lint", good}, "sarif", 2, []string{`--format "sarif"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := rulesCmd(t, tc.format, tc.args...)
			if got := exitCode(err); got != tc.wantCode {
				t.Fatalf("exit code = %d (%v), want %d; output:\n%s", got, err, tc.wantCode, out)
			}
			all := out
			if err != nil {
				all += "\n" + err.Error()
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			if tc.format == "json" {
				var v any
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Errorf("output is not JSON: %v\n%s", err, out)
				}
			}
		})
	}
}

// TestRulesBuiltin checks that with no path the commands use the built-in
// rule tree, named as rules/… in messages.
func TestRulesBuiltin(t *testing.T) {
	saved := builtinRules
	t.Cleanup(func() { builtinRules = saved })
	builtinRules = fstest.MapFS{
		"good.yaml":     {Data: []byte(goodRules)},
		"ioc/pools.txt": {Data: []byte("10.9.9.9\n")},
	}
	out, err := rulesCmd(t, "table", "test")
	if err != nil || !strings.Contains(out, "ok    rules/good.yaml  3 tests") {
		t.Errorf("rules test = %v:\n%s", err, out)
	}
	builtinRules = fstest.MapFS{"f.yaml": {Data: []byte(failingRules)}}
	out, err = rulesCmd(t, "table", "test")
	if exitCode(err) != 1 || !strings.Contains(out, "rules/f.yaml:12: wrong evidence") {
		t.Errorf("rules test = %v:\n%s", err, out)
	}
}

// TestRulesShipped runs lint and test over the rules built into vigil.
func TestRulesShipped(t *testing.T) {
	for _, sub := range []string{"lint", "test"} {
		out, err := rulesCmd(t, "table", sub)
		if err != nil {
			t.Errorf("vigil rules %s: %v\n%s", sub, err, out)
		}
	}
	// The same through the library, as the agent loads them.
	if _, err := detect.LoadFS(builtinRules, "*.yaml"); err != nil {
		t.Error(err)
	}
}
