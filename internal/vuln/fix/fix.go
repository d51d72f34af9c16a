// Package fix upgrades the OS packages named by vulnerability findings on
// the running host, and rolls such an upgrade back. It is the library of
// `vigil fix FINDING-ID [--dry-run]` and `vigil fix --rollback RECORD`.
//
// A fix is made in three steps:
//
//   - Select picks the findings the user named by their FindingKey from a
//     fresh scan of the host.
//   - NewPlan works out what to run: for Debian and Ubuntu (apt), every
//     installed binary package built from the vulnerable source package
//     (libc6 and libc-bin for glibc) is upgraded together, each to the
//     lowest version apt can install that is at least the fixed version.
//     OSV's Debian records give the fixed version of the source package; a
//     binary package may carry a later binNMU version ("2.36-9+b1"), so
//     the version comes from `apt-cache madison`, compared with Debian's
//     ordering (internal/vuln/match).
//   - (*Plan).Execute writes a rollback record to
//     <data-dir>/fix/<timestamp>-<id>.json with every package's installed
//     version before running anything, runs the commands, and completes
//     the record with the outcome and every package version that changed.
//     Rollback reinstalls the recorded versions.
//
// Only apt hosts are supported: findings of RPM and Alpine packages give a
// clear error wrapping ErrUnsupported (and are not tested here), language
// packages give one too.
//
// Package names and versions come from scanned data. Each is checked
// against Debian's grammar (ValidPackageName, ValidVersion) and passed to
// apt-get as its own argv entry, after "--": no shell is ever involved.
package fix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/vuln/match"
)

// ErrUnsupported is returned, wrapped, for a finding whose package manager
// fix cannot drive (anything but apt).
var ErrUnsupported = errors.New("unsupported package manager")

// Options configure how fix runs the package manager.
type Options struct {
	// AptArgs are passed to every apt-get and apt-cache call before the
	// subcommand, e.g. {"-o", "Dir::Etc::sourcelist=/tmp/x.list"}. The
	// product leaves them empty and uses the system's sources.
	AptArgs []string
	// Output receives the output of the commands that change the system
	// (apt-get install); nil discards it. The last part of it is also
	// kept in the record.
	Output io.Writer
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Run runs one command; nil runs it with os/exec (never through a
	// shell). It is a test seam.
	Run func(ctx context.Context, argv []string, stdout, stderr io.Writer) error
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// run runs argv, writing its standard output to stdout and its standard
// error to stderr (nil discards them).
func (o *Options) run(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	if o.Run != nil {
		return o.Run(ctx, argv, stdout, stderr)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	return cmd.Run()
}

// output runs argv and returns its standard output; a failure's error
// carries the end of its standard error.
func (o *Options) output(ctx context.Context, argv []string) ([]byte, error) {
	var out strings.Builder
	errb := &tail{max: 2048}
	if err := o.run(ctx, argv, &out, errb); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(errb.String()))
	}
	return []byte(out.String()), nil
}

// FindingKey is the stable ID of a finding that the user passes to `vigil
// fix`: "<OSV ID>/<ecosystem>/<package>", e.g.
// "DSA-5514-1/Debian:12/libc6". It is unique per (advisory, package) in a
// scan, and stays the same across scans while the package is affected,
// since it holds no version. The same package installed for several
// architectures has one key, and is fixed for all of them.
func FindingKey(f finding.Finding) string {
	return f.Advisory.ID + "/" + f.Target.Package.Ecosystem + "/" + f.Target.Package.Name
}

// Select returns the findings of all whose FindingKey is one of keys, in
// the order of all. A key that matches no finding is an error naming it:
// the package may have been fixed since, or the key mistyped.
func Select(all []finding.Finding, keys []string) ([]finding.Finding, error) {
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = false
	}
	var out []finding.Finding
	for _, f := range all {
		k := FindingKey(f)
		if _, ok := want[k]; ok {
			want[k] = true
			out = append(out, f)
		}
	}
	var missing []string
	for _, k := range keys {
		if !want[k] && !slices.Contains(missing, k) {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no current finding has the key %q (already fixed, or a typo?)", strings.Join(missing, `", "`))
	}
	return out, nil
}

// tail is an io.Writer that keeps the last max bytes written.
type tail struct {
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }

// debianOrdering is the version ordering fix compares with.
const debianOrdering = "Debian"

func compareDeb(a, b string) (int, error) { return match.Compare(debianOrdering, a, b) }
