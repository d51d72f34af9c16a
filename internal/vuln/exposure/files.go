package exposure

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// dpkgInfo is where dpkg keeps its per-package file lists.
const dpkgInfo = "var/lib/dpkg/info"

// debFiles calls fn with each path in the dpkg file list of p:
// <info>/<name>:<arch>.list for Multi-Arch: same packages, else
// <info>/<name>.list. Directories are listed too; no process maps them.
func debFiles(root fs.FS, p inventory.Package, fn func([]byte)) error {
	info := dpkgInfo
	if dir, ok := strings.CutSuffix(p.Source, "/status"); ok && dir != "" {
		info = path.Join(strings.TrimPrefix(dir, "/"), "info")
	}
	var names []string
	if p.Arch != "" && p.Arch != "all" {
		names = append(names, path.Join(info, p.Name+":"+p.Arch+".list"))
	}
	names = append(names, path.Join(info, p.Name+".list"))
	for _, name := range names {
		f, err := root.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open dpkg file list: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if l := sc.Bytes(); len(l) > 0 && l[0] == '/' {
				fn(l)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("read dpkg file list %q: %w", "/"+name, err)
		}
		return nil
	}
	return fmt.Errorf("no dpkg file list for %q", p.Name)
}

// apkDB returns the apk database p was read from, unrooted.
func apkDB(p inventory.Package) string {
	if s := strings.TrimPrefix(p.Source, "/"); s != "" {
		return s
	}
	return "lib/apk/db/installed"
}

// apkFiles reads the apk database at db and returns the files of the
// packages in want (keyed "name\x00version"), from their F: (directory)
// and R: (file in that directory) lines. A wanted package that is
// installed but owns no files maps to an empty, non-nil slice.
func apkFiles(root fs.FS, db string, want map[string]bool) (map[string][]string, error) {
	f, err := root.Open(db)
	if err != nil {
		return nil, fmt.Errorf("open apk database: %w", err)
	}
	defer f.Close()
	out := map[string][]string{}
	var name, version, dir string
	var files []string
	state := 0 // 0: undecided, 1: wanted, 2: not wanted
	flush := func() {
		if k := name + "\x00" + version; name != "" && want[k] {
			out[k] = append([]string{}, files...)
		}
		name, version, dir, files, state = "", "", "", files[:0], 0
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			flush()
			continue
		}
		if len(l) < 2 || l[1] != ':' {
			continue
		}
		switch v := l[2:]; l[0] {
		case 'P':
			name = v
		case 'V':
			version = v
		case 'F':
			dir = v
		case 'R':
			if state == 0 {
				state = 2
				if want[name+"\x00"+version] {
					state = 1
				}
			}
			if state == 1 {
				files = append(files, "/"+path.Join(dir, v))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read apk database %q: %w", "/"+db, err)
	}
	flush()
	return out, nil
}

// langFiles calls fn with the files of a language package: each of its
// Locations (a Go binary, a jar; for a jar nested in another archive,
// "app.war!WEB-INF/lib/x.jar", the outer archive, which is what a process
// opens) and, for a Python package installed from a wheel, the files its
// .dist-info/RECORD lists (its compiled extension modules are mapped).
func langFiles(root fs.FS, p inventory.Package, fn func(string)) {
	for _, loc := range p.Locations {
		file, _, _ := strings.Cut(loc, "!")
		if !strings.HasPrefix(file, "/") {
			continue
		}
		fn(file)
		if p.Type == "pypi" && strings.HasSuffix(file, ".dist-info/METADATA") {
			recordFiles(root, path.Dir(file), fn)
		}
	}
}

// recordFiles calls fn with each path in <distInfo>/RECORD (PEP 376: CSV
// rows of path,hash,size, paths relative to the directory holding the
// .dist-info). A missing or unreadable RECORD lists nothing.
func recordFiles(root fs.FS, distInfo string, fn func(string)) {
	f, err := root.Open(strings.TrimPrefix(distInfo, "/") + "/RECORD")
	if err != nil {
		return
	}
	defer f.Close()
	base := path.Dir(distInfo)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		var rel string
		if q, ok := strings.CutPrefix(l, `"`); ok {
			rel, _, _ = strings.Cut(q, `"`) // a path with a comma is quoted
		} else {
			rel, _, _ = strings.Cut(l, ",")
		}
		if rel == "" {
			continue
		}
		if strings.HasPrefix(rel, "/") {
			fn(rel)
		} else {
			fn(path.Join(base, rel))
		}
	}
}
