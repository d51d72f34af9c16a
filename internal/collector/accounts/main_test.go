package accounts

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/textio"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// errStrings renders line errors for comparison.
func errStrings(errs []*textio.LineError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}
