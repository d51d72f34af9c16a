package list

import (
	"testing"

	"github.com/vigilsec/vigil/internal/plugin"
)

// TestPluginNamesValid builds every extractor and checks that its name is
// valid, unique and the one it is listed under.
func TestPluginNamesValid(t *testing.T) {
	seen := map[string]bool{}
	for key, fn := range All {
		e := fn()
		name := e.Name()
		if err := plugin.ValidateName(name); err != nil {
			t.Errorf("extractor listed as %q: %v", key, err)
		}
		if name != key {
			t.Errorf("extractor listed as %q is named %q", key, name)
		}
		if seen[name] {
			t.Errorf("extractor name %q is not unique", name)
		}
		seen[name] = true
		if e.Version() < 1 {
			t.Errorf("extractor %q has version %d, want >= 1", name, e.Version())
		}
		if e.Requirements() == nil {
			t.Errorf("extractor %q has nil requirements", name)
		}
	}
	for key := range OS {
		if All[key] == nil {
			t.Errorf("OS extractor %q is missing from All", key)
		}
	}
}

func TestBuildOrdered(t *testing.T) {
	got := OS.Build()
	if len(got) != len(OS) {
		t.Fatalf("Build made %d extractors, want %d", len(got), len(OS))
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Name() >= got[i].Name() {
			t.Errorf("Build order: %q before %q", got[i-1].Name(), got[i].Name())
		}
	}
}
