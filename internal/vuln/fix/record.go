package fix

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/snapshot"
)

// RecordFormat is the version of the rollback record's JSON format.
const RecordFormat = 1

// maxRecordSize bounds the rollback records Rollback reads.
const maxRecordSize = 16 << 20

// Record is the rollback record of one fix, kept as JSON in
// <data-dir>/fix/<ID>.json. It is written before anything runs, and again
// with the outcome, and after each rollback.
type Record struct {
	Format int `json:"format"`
	// ID is "<UTC time, 20060102T150405Z>-<8 hex digits>", the file name
	// without ".json".
	ID       string   `json:"id"`
	Manager  string   `json:"manager"` // "apt"
	Findings []string `json:"findings"`
	// Packages are the planned changes: each package's version before the
	// fix and its target version.
	Packages []Change `json:"packages"`
	// Commands are the argv of the commands run.
	Commands [][]string `json:"commands"`
	Outcome  Outcome    `json:"outcome"`
	// Rollbacks are the outcomes of the rollbacks of this fix.
	Rollbacks []Outcome `json:"rollbacks,omitempty"`

	// Path is where the record is stored.
	Path string `json:"-"`
}

// Outcome is how a fix or a rollback went.
type Outcome struct {
	// Status is "pending" (written before the commands ran: the run was
	// interrupted if it stays so), "succeeded" or "failed".
	Status   string    `json:"status"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
	// Output is the end of the commands' output.
	Output string `json:"output,omitempty"`
	// Changed is every package whose installed version changed,
	// including dependencies apt upgraded or installed.
	Changed []VersionChange `json:"changed,omitempty"`
	// Note says what a rollback left alone (packages the fix installed).
	Note string `json:"note,omitempty"`
}

// Outcome statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// VersionChange is a package whose installed version changed. Before is
// "" for a package that was installed, After "" for one that was removed.
type VersionChange struct {
	Package string `json:"package"`
	Before  string `json:"before"`
	After   string `json:"after"`
}

// Execute runs the plan as root on this host. Before running anything it
// checks that the planned packages are still at the versions planned from,
// and writes the rollback record (atomically) to
// <dataDir>/fix/<ID>.json; after the commands it writes it again with the
// outcome. The record is returned whenever it was written, also with an
// error from the commands.
func (p *Plan) Execute(ctx context.Context, dataDir string) (*Record, error) {
	o := &p.opts
	if len(p.Commands) == 0 {
		return nil, fmt.Errorf("execute fix: the plan has no commands")
	}
	before, err := dpkgInstalled(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("execute fix: %w", err)
	}
	bv := versions(before)
	for _, c := range p.Changes {
		if bv[c.Package] != c.Installed {
			return nil, fmt.Errorf("execute fix: plan is out of date: %q is now at %q, not %q", c.Package, bv[c.Package], c.Installed)
		}
	}
	dir := filepath.Join(dataDir, "fix")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("execute fix: %w", err)
	}
	start := o.now()
	rec := &Record{Format: RecordFormat, Manager: "apt", Findings: p.Findings, Packages: p.Changes,
		Commands: p.Commands, Outcome: Outcome{Status: StatusPending, Started: start}}
	h := sha256.New()
	for _, c := range p.Changes {
		fmt.Fprintf(h, "%s=%s\n", c.Package, c.Target)
	}
	base := start.Format("20060102T150405Z") + "-" + hex.EncodeToString(h.Sum(nil))[:8]
	rec.ID, rec.Path = base, filepath.Join(dir, base+".json")
	for i := 2; ; i++ {
		if _, err := os.Lstat(rec.Path); errors.Is(err, fs.ErrNotExist) {
			break
		}
		rec.ID = fmt.Sprintf("%s-%d", base, i)
		rec.Path = filepath.Join(dir, rec.ID+".json")
	}
	if err := rec.save(); err != nil {
		return nil, fmt.Errorf("execute fix: %w", err)
	}

	runErr := runAll(ctx, o, p.Commands, &rec.Outcome)
	want := map[string]string{}
	for _, c := range p.Changes {
		want[c.Package] = c.Target
	}
	err = finish(ctx, o, &rec.Outcome, bv, want, runErr)
	if serr := rec.save(); serr != nil {
		err = errors.Join(err, fmt.Errorf("execute fix: %w", serr))
	}
	if err != nil {
		return rec, fmt.Errorf("execute fix (record %s): %w", rec.Path, err)
	}
	return rec, nil
}

// runAll runs the commands, stopping at the first failure, and keeps the
// end of their output in out.
func runAll(ctx context.Context, o *Options, cmds [][]string, out *Outcome) error {
	t := &tail{max: 8192}
	var w io.Writer = t
	if o.Output != nil {
		w = io.MultiWriter(o.Output, t)
	}
	defer func() { out.Output = t.String() }()
	for _, argv := range cmds {
		if err := o.run(ctx, argv, w, w); err != nil {
			return fmt.Errorf("%s: %w", argv[0], err)
		}
	}
	return nil
}

// finish completes out after the commands ran: the versions that changed
// since before, and the status, failed when a command failed or a package
// in want is not at its wanted version.
func finish(ctx context.Context, o *Options, out *Outcome, before map[string]string, want map[string]string, runErr error) error {
	err := runErr
	after, lerr := dpkgInstalled(ctx, o)
	if lerr != nil {
		err = errors.Join(err, lerr)
	} else {
		av := versions(after)
		out.Changed = diff(before, av)
		if runErr == nil {
			for _, pkg := range slices.Sorted(mapKeys(want)) {
				if av[pkg] != want[pkg] {
					err = errors.Join(err, fmt.Errorf("%q is at %q after the commands, not %q", pkg, av[pkg], want[pkg]))
				}
			}
		}
	}
	out.Finished = o.now()
	out.Status = StatusSucceeded
	if err != nil {
		out.Status, out.Error = StatusFailed, err.Error()
	}
	return err
}

// versions maps each installed package to its version.
func versions(pkgs []installedPkg) map[string]string {
	m := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		if p.installed() {
			m[p.Binary] = p.Version
		}
	}
	return m
}

// diff lists the packages whose version differs between a and b.
func diff(a, b map[string]string) []VersionChange {
	var out []VersionChange
	for k, va := range a {
		if vb := b[k]; vb != va {
			out = append(out, VersionChange{Package: k, Before: va, After: vb})
		}
	}
	for k, vb := range b {
		if _, ok := a[k]; !ok {
			out = append(out, VersionChange{Package: k, After: vb})
		}
	}
	slices.SortFunc(out, func(x, y VersionChange) int { return strings.Compare(x.Package, y.Package) })
	return out
}

func (r *Record) save() error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	return snapshot.WriteFileAtomic(r.Path, append(b, '\n'), 0o600)
}

// ReadRecord reads and checks a rollback record: every package name and
// version in it must be valid in Debian's grammar.
func ReadRecord(path string) (*Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read fix record: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return nil, fmt.Errorf("read fix record %s: %w", path, err)
	}
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("read fix record %s: larger than %d bytes", path, maxRecordSize)
	}
	rec, err := parseRecord(b)
	if err != nil {
		return nil, fmt.Errorf("read fix record %s: %w", path, err)
	}
	rec.Path = path
	return rec, nil
}

func parseRecord(b []byte) (*Record, error) {
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, err
	}
	if rec.Format != RecordFormat {
		return nil, fmt.Errorf("unknown record format %d", rec.Format)
	}
	if rec.Manager != "apt" {
		return nil, fmt.Errorf("%w %q", ErrUnsupported, rec.Manager)
	}
	for _, c := range rec.Packages {
		if !ValidPackageName(c.Package) || !ValidVersion(c.Installed) {
			return nil, fmt.Errorf("invalid package %q version %q", c.Package, c.Installed)
		}
	}
	for _, c := range rec.Outcome.Changed {
		if !ValidPackageName(c.Package) || (c.Before != "" && !ValidVersion(c.Before)) {
			return nil, fmt.Errorf("invalid changed package %q version %q", c.Package, c.Before)
		}
	}
	return &rec, nil
}

// restoreTargets are the versions a rollback of rec installs: the version
// before the fix of every package the fix changed (its planned packages,
// and whatever else its outcome says changed), and the packages the fix
// newly installed, which a rollback leaves in place.
func (r *Record) restoreTargets() (want map[string]string, added []string) {
	want = map[string]string{}
	for _, c := range r.Packages {
		want[c.Package] = c.Installed
	}
	for _, c := range r.Outcome.Changed {
		if c.Before == "" {
			added = append(added, c.Package)
			continue
		}
		want[c.Package] = c.Before
	}
	return want, added
}

// Rollback restores the package versions recorded before the fix of the
// record at recordPath: it reinstalls them with `apt-get install
// --allow-downgrades`. Packages the fix newly installed are left in place
// (the outcome's Note names them). Before changing anything it checks with
// `apt-cache madison` that apt can still download every version to
// restore, and fails naming those it cannot. The outcome is appended to
// the record's Rollbacks, and the record returned whenever it was read.
func Rollback(ctx context.Context, recordPath string, opts Options) (*Record, error) {
	o := &opts
	rec, err := ReadRecord(recordPath)
	if err != nil {
		return nil, err
	}
	want, added := rec.restoreTargets()
	inst, err := dpkgInstalled(ctx, o)
	if err != nil {
		return rec, fmt.Errorf("roll back %s: %w", recordPath, err)
	}
	cur := versions(inst)
	var args, missing []string
	for _, pkg := range slices.Sorted(mapKeys(want)) {
		if err := ctx.Err(); err != nil {
			return rec, err
		}
		if cur[pkg] == want[pkg] {
			continue
		}
		vs, err := available(ctx, o, pkg)
		if err != nil {
			return rec, fmt.Errorf("roll back %s: %w", recordPath, err)
		}
		if !slices.Contains(vs, want[pkg]) {
			missing = append(missing, pkg+"="+want[pkg])
			continue
		}
		args = append(args, pkg+"="+want[pkg])
	}
	if len(missing) > 0 {
		return rec, fmt.Errorf("roll back %s: apt can no longer download %s; nothing was changed", recordPath, strings.Join(missing, ", "))
	}
	if len(args) == 0 {
		return rec, nil
	}
	out := Outcome{Status: StatusPending, Started: o.now()}
	if len(added) > 0 {
		out.Note = "left installed (new with the fix): " + strings.Join(added, ", ")
	}
	cmd := aptGet(o, append([]string{"install", "--allow-downgrades", "--"}, args...)...)
	rec.Rollbacks = append(rec.Rollbacks, out)
	last := &rec.Rollbacks[len(rec.Rollbacks)-1]
	if err := rec.save(); err != nil {
		return rec, fmt.Errorf("roll back %s: %w", recordPath, err)
	}
	runErr := runAll(ctx, o, [][]string{cmd}, last)
	err = finish(ctx, o, last, cur, want, runErr)
	if serr := rec.save(); serr != nil {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return rec, fmt.Errorf("roll back %s: %w", recordPath, err)
	}
	return rec, nil
}
