package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// vigil runs the real command tree in-process with args and returns what
// it printed on stdout and stderr.
func vigil(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := NewRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetIn(bytes.NewReader(nil))
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// mustVigil is vigil that fails the test on an error.
func mustVigil(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := vigil(t, args...)
	if err != nil {
		t.Fatalf("vigil %q: %v\nstderr:\n%s", args, err, stderr)
	}
	return stdout, stderr
}

// rpmFixture is the rpm database made by the rpm extractor's
// mkfixtures.sh with the real rpm tools (txtar holds text only).
const rpmFixture = "../extractor/os/rpm/testdata/rpmdb.sqlite"

// distroTree writes testdata/<distro>.txtar into a temporary root and
// adds the binary files it needs.
func distroTree(t *testing.T, distro string) string {
	t.Helper()
	root := testutil.TxtarToDir(t, filepath.Join("testdata", distro+".txtar"))
	if distro == "rhel" {
		copyFile(t, rpmFixture, filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"))
	}
	return root
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
