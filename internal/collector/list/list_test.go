package list

import (
	"slices"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

func TestPluginNamesValid(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range All(Config{}) {
		n := c.Name()
		if err := plugin.ValidateName(n); err != nil {
			t.Error(err)
		}
		if seen[n] {
			t.Errorf("duplicate collector name %q", n)
		}
		seen[n] = true
		if !slices.Contains(inventory.Categories, n) {
			t.Errorf("collector %q is not named after an inventory category", n)
		}
		if c.Requirements() == nil || c.Version() < 1 {
			t.Errorf("collector %q: nil requirements or version < 1", n)
		}
	}
}

func TestSelect(t *testing.T) {
	got, err := Select(Config{}, []string{"host"})
	if err != nil || len(got) != 1 || got[0].Name() != "host" {
		t.Errorf("Select(host) = %v, %v", got, err)
	}
	if _, err := Select(Config{}, []string{"nope"}); err == nil {
		t.Error("Select accepted an unknown collector")
	}
}
