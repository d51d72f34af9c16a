package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

var (
	collectedAtRE  = regexp.MustCompile(`"collected_at": "[^"]*"`)
	agentVersionRE = regexp.MustCompile(`"agent_version": "[^"]*"`)
	agentLineRE    = regexp.MustCompile(`(?m)^  agent( +).*$`)
)

// normalise replaces what changes from run to run (the time, the build's
// version, the temporary root and data dir) with fixed markers.
func normalise(s, root, dataDir string) string {
	s = strings.ReplaceAll(s, root, "$ROOT")
	s = strings.ReplaceAll(s, dataDir, "$DATA")
	s = collectedAtRE.ReplaceAllString(s, `"collected_at": "$$TIME"`)
	s = agentVersionRE.ReplaceAllString(s, `"agent_version": "$$VERSION"`)
	s = agentLineRE.ReplaceAllString(s, `  agent${1}$$VERSION`)
	return s
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run TestInventoryTrees -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", p, diff)
	}
}

// TestInventoryTrees inventories a whole root tree of each distribution
// family with the real command and compares its JSON and table output
// with golden files.
func TestInventoryTrees(t *testing.T) {
	for _, distro := range []string{"debian", "rhel", "alpine"} {
		t.Run(distro, func(t *testing.T) {
			root := distroTree(t, distro)
			dataDir := t.TempDir()

			out, stderr := mustVigil(t, "inventory", "--root", root, "--data-dir", dataDir, "--format", "json")
			if stderr != "" {
				t.Errorf("stderr:\n%s", stderr)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			if doc["root"] != root {
				t.Errorf("root = %v, want %s", doc["root"], root)
			}
			golden(t, distro+".golden.json", normalise(out, root, dataDir))

			table, stderr := mustVigil(t, "inventory", "--root", root, "--data-dir", dataDir)
			if stderr != "" {
				t.Errorf("stderr:\n%s", stderr)
			}
			checkWidth(t, table)
			golden(t, distro+".golden.txt", normalise(table, root, dataDir))
		})
	}
}

// checkWidth fails for any line of table output wider than termWidth.
func checkWidth(t *testing.T, out string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(out))
	for n := 1; sc.Scan(); n++ {
		if w := utf8.RuneCountInString(sc.Text()); w > termWidth {
			t.Errorf("line %d is %d runes wide, more than %d:\n%s", n, w, termWidth, sc.Text())
		}
	}
}
