// Package rootread holds what the file-based collectors (scheduled
// tasks, startup items) share when they read an inventory root: symlinks
// resolved inside the root, missing sources skipped quietly, other read
// errors kept as per-source problems, and a record of whether any source
// existed at all (a root with none is skipped, not reported as empty).
package rootread

import (
	"context"
	"errors"
	"io/fs"

	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/systemd"
)

// Reader reads files of one root. The zero value with FS set is ready.
type Reader struct {
	FS fs.FS
	// Found is set once any source the collector looked for exists (or
	// exists but could not be read).
	Found    bool
	Problems plugin.Problems
}

// Run calls each step in order, stopping when ctx ends.
func (r *Reader) Run(ctx context.Context, steps ...func()) error {
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		step()
	}
	return ctx.Err()
}

// ReadDir lists dir without resolving symlinks inside the root first:
// the fs.FS decides what a symlink means (os.Root refuses one leaving the
// root; os.DirFS follows it on the host). A missing directory gives nil;
// another error is a problem.
func (r *Reader) ReadDir(dir string) []fs.DirEntry {
	return r.readDir(dir, dir, nil)
}

// ReadDirResolved lists dir after resolving symlinks in the root.
func (r *Reader) ReadDirResolved(dir string) []fs.DirEntry {
	real, err := systemd.ResolvePath(r.FS, dir)
	return r.readDir(dir, real, err)
}

func (r *Reader) readDir(dir, real string, err error) []fs.DirEntry {
	if err == nil {
		var entries []fs.DirEntry
		if entries, err = fs.ReadDir(r.FS, real); err == nil {
			r.Found = true
			return entries
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		r.Found = true
		r.Problems.Addf("read directory %q: %v", "/"+dir, err)
	}
	return nil
}

// Open opens the real file of p after resolving symlinks in the root. A
// missing file gives nil; another error is a problem.
func (r *Reader) Open(p string) fs.File {
	real, err := systemd.ResolvePath(r.FS, p)
	if err == nil {
		var f fs.File
		if f, err = r.FS.Open(real); err == nil {
			r.Found = true
			return f
		}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		r.Found = true
		r.Problems.Addf("open %q: %v", "/"+p, err)
	}
	return nil
}

// Stat resolves p in the root and stats the result, returning the real
// unrooted path too.
func (r *Reader) Stat(p string) (string, fs.FileInfo, error) {
	real, err := systemd.ResolvePath(r.FS, p)
	if err != nil {
		return "", nil, err
	}
	fi, err := fs.Stat(r.FS, real)
	return real, fi, err
}
