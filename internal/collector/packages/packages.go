// Package packages collects the installed OS packages of a root: it looks
// for the dpkg, rpm and apk databases at their known locations (without
// walking the tree) and runs the OS extractors over what it finds.
package packages

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/list"
	"github.com/vigilsec/vigil/internal/extractor/os/apk"
	"github.com/vigilsec/vigil/internal/extractor/os/dpkg"
	"github.com/vigilsec/vigil/internal/extractor/os/rpm"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the collector's name.
const Name = inventory.CategoryPackages

// Collector runs the OS package extractors over a root.
type Collector struct {
	extractors []extractor.Extractor
}

// New returns the packages collector.
func New() collector.Collector { return &Collector{extractors: list.OS.Build()} }

func (*Collector) Name() string                       { return Name }
func (*Collector) Version() int                       { return 1 }
func (*Collector) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// database is one package database file found in the root.
type database struct {
	path string
	info fs.FileInfo
}

// databases lists the package databases present in root. Of the rpm
// databases it keeps, per directory, the one rpm itself would prefer
// (sqlite, then ndb, then bdb), and it reads a directory only once when
// var/lib/rpm is a symlink to usr/lib/sysimage/rpm (Fedora, SUSE).
// Problems statting a location are added to problems and count as found.
func databases(root fs.FS, problems *plugin.Problems) (dbs []database, unreadable int) {
	stat := func(p string) (fs.FileInfo, bool) {
		info, err := fs.Stat(root, p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, false
		case err != nil:
			problems.Addf("stat %q: %v", "/"+p, err)
			unreadable++
			return nil, false
		}
		return info, info.Mode().IsRegular()
	}

	if info, ok := stat(dpkg.StatusPath); ok {
		dbs = append(dbs, database{dpkg.StatusPath, info})
	}
	entries, err := fs.ReadDir(root, dpkg.StatusDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		problems.Addf("read %q: %v", "/"+dpkg.StatusDir, err)
		unreadable++
	}
	for _, e := range entries {
		p := dpkg.StatusDir + "/" + e.Name()
		if info, ok := stat(p); ok {
			dbs = append(dbs, database{p, info})
		}
	}

	var rpmSeen []fs.FileInfo
	for _, dir := range rpm.Dirs {
		for _, file := range rpm.Files {
			p := path.Join(dir, file)
			info, ok := stat(p)
			if !ok {
				continue
			}
			if !slices.ContainsFunc(rpmSeen, func(s fs.FileInfo) bool { return os.SameFile(s, info) }) {
				rpmSeen = append(rpmSeen, info)
				dbs = append(dbs, database{p, info})
			}
			break
		}
	}

	if info, ok := stat(apk.InstalledPath); ok {
		dbs = append(dbs, database{apk.InstalledPath, info})
	}
	return dbs, unreadable
}

// Collect reads every package database found under in.Root. It skips when
// there is none, fails when none could be read, and otherwise reports the
// packages it read, sorted by type, name, arch and version, with the
// problems of the rest.
func (c *Collector) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	var problems plugin.Problems
	found, unreadable := databases(in.Root, &problems)
	var dbs []database
	for _, db := range found {
		if slices.ContainsFunc(c.extractors, func(e extractor.Extractor) bool { return e.FileRequired(db.path, db.info) }) {
			dbs = append(dbs, db) // not status.d/*.md5sums
		}
	}
	if len(dbs)+unreadable == 0 {
		root := in.RootPath
		if root == "" {
			root = "the scanned root"
		}
		return nil, plugin.Skip("no dpkg, rpm or apk database under %s", root)
	}

	inv := &inventory.Inventory{}
	failed := unreadable
	var firstErr error
	for _, db := range dbs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		got, err := c.extract(ctx, in, db)
		if got != nil {
			inv.Packages = append(inv.Packages, got.Packages...)
		}
		var pe *plugin.PartialError
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &pe):
			for _, p := range pe.Problems {
				problems.Addf("%s", p)
			}
		default:
			problems.Add(err)
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if failed == len(dbs)+unreadable {
		if firstErr == nil {
			return nil, problems.Err()
		}
		if failed > 1 {
			return nil, fmt.Errorf("%w (and %d more package databases could not be read)", firstErr, failed-1)
		}
		return nil, firstErr
	}

	slices.SortStableFunc(inv.Packages, func(a, b inventory.Package) int {
		return cmp.Or(
			cmp.Compare(a.Type, b.Type),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Arch, b.Arch),
			cmp.Compare(a.Version, b.Version),
			cmp.Compare(a.Source, b.Source),
		)
	})
	return inv, problems.Err()
}

// extract runs the extractor that wants db on it.
func (c *Collector) extract(ctx context.Context, in *collector.Input, db database) (*inventory.Inventory, error) {
	for _, e := range c.extractors {
		if !e.FileRequired(db.path, db.info) {
			continue
		}
		f, err := in.Root.Open(db.path)
		if err != nil {
			return nil, fmt.Errorf("open %q: %w", "/"+db.path, err)
		}
		defer f.Close()
		return e.Extract(ctx, &extractor.ScanInput{
			FS: in.Root, Path: db.path, Info: db.info, Reader: f, RootPath: in.RootPath,
		})
	}
	// Unreachable while the locations above match the extractors.
	return nil, fmt.Errorf("no extractor reads %q", "/"+db.path)
}
