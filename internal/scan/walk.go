// Package scan finds packages in a filesystem tree: it walks the tree once
// and hands each file that an extractor asks for to that extractor. Host,
// root-tree, image and source-directory scans all go through Walk.
package scan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"

	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Walker runs extractors over a tree.
type Walker struct {
	Extractors []extractor.Extractor
	// SkipDirs are unrooted directories not descended into ("proc",
	// "sys"); see HostSkipDirs.
	SkipDirs []string
	// MaxFileSize: larger files are not handed to extractors (0: 1 GiB).
	MaxFileSize int64
	// Progress, when set, is called every ProgressEvery files.
	Progress func(files int, current string)
}

// HostSkipDirs are the pseudo-filesystems and caches of a live host that
// hold no installed software.
var HostSkipDirs = []string{"proc", "sys", "dev", "run", "tmp", "var/lib/docker", "var/lib/containerd", "var/cache", "var/lib/vigil"}

// ProgressEvery is how often Progress is called.
const ProgressEvery = 2000

const defaultMaxFileSize = 1 << 30

// Result is what a walk found.
type Result struct {
	Packages []inventory.Package
	// Status holds one entry per extractor that was handed a file.
	Status map[string]plugin.Status
	Files  int // regular files visited
	// Unreadable counts directories and files the walk could not read.
	Unreadable int
	// TooLarge counts files over MaxFileSize that an extractor wanted.
	TooLarge int
}

// Walk visits every regular file under root once. rootPath is root's
// location on disk ("" when it has none); extractors that need a real
// path (rpm) use it. Walk returns an error only when ctx ends or the root
// itself cannot be read; problems with single files go into the
// extractor's status.
func (w *Walker) Walk(ctx context.Context, root fs.FS, rootPath string) (*Result, error) {
	res := &Result{Status: map[string]plugin.Status{}}
	skip := make(map[string]bool, len(w.SkipDirs))
	for _, d := range w.SkipDirs {
		skip[strings.Trim(d, "/")] = true
	}
	maxSize := w.MaxFileSize
	if maxSize <= 0 {
		maxSize = defaultMaxFileSize
	}
	problems := map[string]*plugin.Problems{}
	// handed and failed count files per extractor: an extractor fails
	// only when every file it was handed failed.
	handed := map[string]int{}
	failed := map[string]int{}
	firstErr := map[string]error{}
	var pkgs []inventory.Package

	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			if p == "." {
				return err
			}
			res.Unreadable++
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if skip[p] {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		res.Files++
		if w.Progress != nil && res.Files%ProgressEvery == 0 {
			w.Progress(res.Files, p)
		}
		var info fs.FileInfo
		for _, ex := range w.Extractors {
			if info == nil {
				if info, err = d.Info(); err != nil {
					res.Unreadable++
					return nil
				}
			}
			if !ex.FileRequired(p, info) {
				continue
			}
			if info.Size() > maxSize {
				res.TooLarge++
				continue
			}
			got, err := extractFile(ctx, ex, root, rootPath, p, info)
			name := ex.Name()
			st := plugin.StatusFromErr(err)
			switch st.State {
			case plugin.StatePartial:
				pr := problems[name]
				if pr == nil {
					pr = &plugin.Problems{}
					problems[name] = pr
				}
				for _, msg := range st.Problems {
					pr.Add(errors.New(msg))
				}
			case plugin.StateFailed:
				failed[name]++
				if firstErr[name] == nil {
					firstErr[name] = err
				}
				pr := problems[name]
				if pr == nil {
					pr = &plugin.Problems{}
					problems[name] = pr
				}
				pr.Add(err)
			}
			handed[name]++
			if got != nil {
				pkgs = append(pkgs, got.Packages...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", displayRoot(rootPath), err)
	}
	for name, n := range handed {
		switch {
		case failed[name] == n:
			res.Status[name] = plugin.StatusFromErr(firstErr[name])
		case problems[name] != nil:
			res.Status[name] = plugin.StatusFromErr(problems[name].Err())
		default:
			res.Status[name] = plugin.Status{State: plugin.StateSucceeded}
		}
	}
	res.Packages = Dedupe(pkgs)
	return res, nil
}

func displayRoot(rootPath string) string {
	if rootPath == "" {
		return "root"
	}
	return rootPath
}

func extractFile(ctx context.Context, ex extractor.Extractor, root fs.FS, rootPath, p string, info fs.FileInfo) (*inventory.Inventory, error) {
	f, err := root.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", "/"+p, err)
	}
	defer f.Close()
	return ex.Extract(ctx, &extractor.ScanInput{FS: root, Path: p, Info: info, Reader: f, RootPath: rootPath})
}

// Dedupe merges packages that are the same (type, ecosystem, name,
// version, arch) found in several places, keeping every location, and
// sorts the result.
func Dedupe(pkgs []inventory.Package) []inventory.Package {
	type key struct{ typ, eco, name, version, arch string }
	idx := map[key]int{}
	var out []inventory.Package
	for _, p := range pkgs {
		k := key{p.Type, p.Ecosystem, p.Name, p.Version, p.Arch}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			p.Locations = slices.Clone(p.Locations)
			out = append(out, p)
			continue
		}
		for _, l := range p.Locations {
			if !slices.Contains(out[i].Locations, l) {
				out[i].Locations = append(out[i].Locations, l)
			}
		}
	}
	for i := range out {
		slices.Sort(out[i].Locations)
	}
	slices.SortFunc(out, func(a, b inventory.Package) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version), cmp.Compare(a.Arch, b.Arch))
	})
	return out
}

// OSEcosystem returns the OSV ecosystem of the OS packages of a release
// ("Debian:12", "Ubuntu:22.04:LTS", "Alpine:v3.19", "Rocky Linux:9",
// "AlmaLinux:9"), or "" when OSV has no data for that distribution.
func OSEcosystem(osr inventory.OSRelease) string {
	v := osr.VersionID
	major, _, _ := strings.Cut(v, ".")
	switch osr.ID {
	case "debian":
		if v == "" {
			return "Debian"
		}
		return "Debian:" + major
	case "ubuntu":
		eco := "Ubuntu:" + v
		if strings.Contains(osr.Version, "LTS") {
			eco += ":LTS"
		}
		return eco
	case "alpine":
		parts := strings.SplitN(v, ".", 3)
		if len(parts) < 2 {
			return "Alpine"
		}
		return "Alpine:v" + parts[0] + "." + parts[1]
	case "rocky":
		return "Rocky Linux:" + major
	case "almalinux":
		return "AlmaLinux:" + major
	}
	return ""
}

// osPackageType maps an OS package type to the ecosystems it can be
// matched in.
var osPackageType = map[string]string{"debian": "deb", "ubuntu": "deb", "alpine": "apk", "rocky": "rpm", "almalinux": "rpm"}

// SetOSEcosystem fills Ecosystem on the OS packages of pkgs for release
// osr, when OSV covers it and the package type fits the distribution.
func SetOSEcosystem(pkgs []inventory.Package, osr inventory.OSRelease) {
	eco := OSEcosystem(osr)
	typ := osPackageType[osr.ID]
	if eco == "" {
		return
	}
	for i := range pkgs {
		if pkgs[i].Ecosystem == "" && pkgs[i].Type == typ {
			pkgs[i].Ecosystem = eco
		}
	}
}
