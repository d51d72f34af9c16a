package middleware

import (
	"bufio"
	"context"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/plugin"
)

// owner is the package that installed a file.
type owner struct {
	pkg  string
	typ  string // "deb", "apk"
	vers string // known from the apk database; "" for dpkg
}

// altPaths returns p and its spelling on the other side of the /usr
// merge: dpkg lists record /bin/bash while the kernel reports
// /usr/bin/bash, and the reverse.
func altPaths(p string) []string {
	for _, d := range []string{"/bin/", "/sbin/", "/lib/", "/lib64/", "/libx32/", "/lib32/"} {
		if rest, ok := strings.CutPrefix(p, "/usr"+d); ok {
			return []string{p, d + rest}
		}
		if rest, ok := strings.CutPrefix(p, d); ok {
			return []string{p, "/usr" + d + rest}
		}
	}
	return []string{p}
}

// findOwners returns the packages owning paths (absolute paths inside
// root), as recorded in the dpkg file lists or the apk database. Each
// source is read at most once, and dpkg lists of packages matching one
// of the hint patterns are read first, so the whole set is read only when
// a path belongs to an unexpected package.
func findOwners(ctx context.Context, root fs.FS, paths []string, hints []string, problems *plugin.Problems) map[string]owner {
	want := map[string]string{} // spelling -> path asked for
	for _, p := range paths {
		for _, a := range altPaths(p) {
			want[a] = p
		}
	}
	found := map[string]owner{}
	if len(want) == 0 || root == nil {
		return found
	}
	const infoDir = "var/lib/dpkg/info"
	if ents, err := fs.ReadDir(root, infoDir); err == nil {
		var first, rest []string
		for _, e := range ents {
			name, ok := strings.CutSuffix(e.Name(), ".list")
			if !ok {
				continue
			}
			pkg, _, _ := strings.Cut(name, ":")
			if matchAny(hints, pkg) {
				first = append(first, e.Name())
			} else {
				rest = append(rest, e.Name())
			}
		}
		for _, list := range append(first, rest...) {
			if len(want) == 0 || ctx.Err() != nil {
				break
			}
			pkg, _, _ := strings.Cut(strings.TrimSuffix(list, ".list"), ":")
			f, err := root.Open(infoDir + "/" + list)
			if err != nil {
				problems.Addf("/%s/%s: %v", infoDir, list, err)
				continue
			}
			err = scanDpkgList(f, want, func(p string) { found[p] = owner{pkg: pkg, typ: "deb"} })
			f.Close()
			if err != nil {
				problems.Addf("/%s/%s: %v", infoDir, list, err)
			}
		}
	}
	if len(want) > 0 {
		const apkDB = "lib/apk/db/installed"
		if f, err := root.Open(apkDB); err == nil {
			err = scanAPKInstalled(f, want, func(p string, o owner) { found[p] = o })
			f.Close()
			if err != nil {
				problems.Addf("/%s: %v", apkDB, err)
			}
		}
	}
	return found
}

// scanDpkgList reads one dpkg .list file (one path a line), calling add
// for each wanted path it holds and removing its spellings from want.
func scanDpkgList(r io.Reader, want map[string]string, add func(path string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		if p, ok := want[sc.Text()]; ok {
			add(p)
			forget(want, p)
			if len(want) == 0 {
				return nil
			}
		}
	}
	return sc.Err()
}

// scanAPKInstalled reads lib/apk/db/installed: blank-line separated
// records of "X:value" lines, where P: names the package, V: its
// version, F: a directory (relative to /) and R: a file in the last F:.
func scanAPKInstalled(r io.Reader, want map[string]string, add func(path string, o owner)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	var pkg, vers, dir string
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 || line[1] != ':' {
			if line == "" {
				pkg, vers, dir = "", "", ""
			}
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			pkg = v
		case 'V':
			vers = v
		case 'F':
			dir = v
		case 'R':
			if pkg == "" {
				continue
			}
			if p, ok := want[path.Join("/", dir, v)]; ok {
				add(p, owner{pkg: pkg, typ: "apk", vers: vers})
				forget(want, p)
				if len(want) == 0 {
					return nil
				}
			}
		}
	}
	return sc.Err()
}

// forget removes every spelling of p from want.
func forget(want map[string]string, p string) {
	for _, a := range altPaths(p) {
		delete(want, a)
	}
}

// matchAny reports whether name matches one of the path.Match patterns.
func matchAny(patterns []string, name string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}
