// Package exposure tells whether an installed package is exposed on the
// running host: whether one of its files is loaded by a running process
// (its executable, a mapped shared library, an open Java archive) and that
// process listens on an exposed port (a wildcard or public address).
//
// New reads the live state once: the listening sockets and their owners
// (the ports collector), then every process's <proc>/<pid>/exe and
// <proc>/<pid>/maps, keeping for each loaded file the process that makes
// it most exposed. Index.Exposure then maps a package to its files (dpkg
// file lists, the apk database, a language package's Locations) and looks
// them up. Package file lists are read only for the packages asked about.
//
// rpm packages are not assessed: the rpm extractor decodes only the header
// tags it reports (name, version, ...), not the file lists (BASENAMES,
// DIRNAMES, DIRINDEXES).
//
// Processes in another mount namespace than the procfs's own (containers)
// are skipped: their paths name files of their image, not of Root.
package exposure

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/ports"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/procutil"
)

// Input is what New reads.
type Input struct {
	// Root is the host's root filesystem ("/" on the live host); package
	// file lists are read from it.
	Root fs.FS
	// ProcPath is the host's procfs, "/proc" on the live host.
	ProcPath string
	// Packages are the packages Exposure will be asked about (those with
	// findings); their file lists are read by New. Exposure also answers
	// for other packages, reading their lists on first use.
	Packages []inventory.Package
}

// Index answers Exposure for the host state read by New. It is safe for
// concurrent use.
type Index struct {
	root   fs.FS
	merged map[string]bool // top-level dirs that are symlinks into /usr

	// loaded maps each file loaded by a process (normalised path) to the
	// process that makes it most exposed.
	loaded map[string]load

	mu    sync.Mutex
	cache map[string]result
}

// proc is one process that loads files.
type proc struct {
	pid int
	exe string
	// exposed and local are the sockets it listens on ("0.0.0.0:443",
	// "[::1]:53/udp"), on exposed and on loopback/private addresses.
	exposed, local []string
}

// rank orders processes by how exposed they make what they load.
func (p *proc) rank() int {
	switch {
	case len(p.exposed) > 0:
		return 2
	case len(p.local) > 0:
		return 1
	}
	return 0
}

// load is one process's mapping of a file.
type load struct {
	p *proc
	// deleted: the mapped file was deleted (replaced by an upgrade) after
	// the process loaded it.
	deleted bool
}

// better reports whether a makes a file more exposed than b.
func better(a, b load) bool {
	if b.p == nil {
		return true
	}
	return cmp.Or(cmp.Compare(b.p.rank(), a.p.rank()), cmp.Compare(a.p.pid, b.p.pid)) < 0
}

type result struct {
	exposed bool
	why     string
}

// listenersFn returns the listening sockets of the host with their PIDs; a
// test seam over the ports collector.
var listenersFn = func(ctx context.Context, procPath string) ([]inventory.Port, error) {
	in := &collector.Input{ProcPath: procPath, Live: filepath.Clean(procPath) == "/proc"}
	inv, err := ports.New().Collect(ctx, in)
	if inv == nil {
		return nil, err
	}
	return inv.Ports, err
}

// New reads the listening sockets and the files every process has loaded
// under in.ProcPath, then the file lists of in.Packages from in.Root.
//
// It returns an error when the procfs cannot be listed or the sockets
// cannot be read at all. When only some sockets could not be read, it
// returns the Index together with an error wrapping *plugin.PartialError.
// Processes that exit or cannot be read while New runs are skipped.
func New(ctx context.Context, in Input) (*Index, error) {
	if in.Root == nil || in.ProcPath == "" {
		return nil, errors.New("exposure needs a root and a procfs")
	}
	idx := &Index{
		root:   in.Root,
		merged: mergedUsr(in.Root),
		loaded: make(map[string]load, 1024),
		cache:  make(map[string]result, len(in.Packages)),
	}
	socks, err := listenersFn(ctx, in.ProcPath)
	var partial *plugin.PartialError
	if err != nil && !errors.As(err, &partial) {
		return nil, fmt.Errorf("read listening sockets: %w", err)
	}
	if err := idx.readProcs(ctx, in.ProcPath, socks); err != nil {
		return nil, err
	}
	if err := idx.prime(ctx, in.Packages); err != nil {
		return nil, err
	}
	if partial != nil {
		return idx, fmt.Errorf("read listening sockets: %w", partial)
	}
	return idx, nil
}

// Exposure reports whether a file of p is loaded by a running process that
// listens on an exposed port, and why, for assess.Context.Exposure:
//
//	"/usr/sbin/nginx (pid 812) loads /usr/lib/x86_64-linux-gnu/libssl.so.3 and listens on 0.0.0.0:443"
//
// When p is not exposed, why says what is known: that a process loads it
// but listens only on non-exposed addresses or not at all, or why exposure
// could not be assessed; it is "" when no running process loads p.
func (idx *Index) Exposure(p inventory.Package) (bool, string) {
	k := key(p)
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if r, ok := idx.cache[k]; ok {
		return r.exposed, r.why
	}
	var r result
	if p.Type == "apk" {
		files, err := apkFiles(idx.root, apkDB(p), map[string]bool{p.Name + "\x00" + p.Version: true})
		r = idx.assessFiles(p, files[p.Name+"\x00"+p.Version], err)
	} else {
		r = idx.assess(p)
	}
	idx.cache[k] = r
	return r.exposed, r.why
}

// key identifies a package for the cache: the same package found in two
// binaries is two entries unless the caller merged their Locations.
func key(p inventory.Package) string {
	return strings.Join(append([]string{p.Type, p.Name, p.Version, p.Arch}, p.Locations...), "\x00")
}

// prime assesses the packages given to New, reading the apk database once
// for all apk packages.
func (idx *Index) prime(ctx context.Context, pkgs []inventory.Package) error {
	apkWant := map[string]map[string]bool{} // database -> name\x00version
	for _, p := range pkgs {
		if p.Type == "apk" {
			db := apkDB(p)
			if apkWant[db] == nil {
				apkWant[db] = map[string]bool{}
			}
			apkWant[db][p.Name+"\x00"+p.Version] = true
		}
	}
	apk := map[string]map[string][]string{}
	apkErr := map[string]error{}
	for db, want := range apkWant {
		apk[db], apkErr[db] = apkFiles(idx.root, db, want)
	}
	for _, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := key(p)
		if _, ok := idx.cache[k]; ok {
			continue
		}
		if p.Type == "apk" {
			db := apkDB(p)
			idx.cache[k] = idx.assessFiles(p, apk[db][p.Name+"\x00"+p.Version], apkErr[db])
			continue
		}
		idx.cache[k] = idx.assess(p)
	}
	return nil
}

// picker keeps the most exposed load among a package's files.
type picker struct {
	idx  *Index
	buf  []byte
	best load
	file string
}

// visit looks up one file of the package. For equally exposed loads the
// first file wins, except that the executable itself is preferred.
func (pk *picker) visit(f []byte) {
	pk.buf = pk.idx.appendNormal(pk.buf[:0], f)
	l, ok := pk.idx.loaded[string(pk.buf)]
	if !ok {
		return
	}
	if better(l, pk.best) || (l.p == pk.best.p && string(pk.buf) == l.p.exe && pk.file != l.p.exe) {
		pk.best, pk.file = l, string(pk.buf)
	}
}

// assess looks up the files of a package that is not an apk package.
func (idx *Index) assess(p inventory.Package) result {
	pk := &picker{idx: idx}
	switch p.Type {
	case "deb":
		if err := debFiles(idx.root, p, pk.visit); err != nil {
			return result{why: fmt.Sprintf("exposure not assessed: %v", err)}
		}
	case "rpm":
		return result{why: "exposure not assessed: rpm file lists are not read"}
	default:
		if len(p.Locations) == 0 {
			return result{why: "exposure not assessed: no file location"}
		}
		langFiles(idx.root, p, func(f string) { pk.visit([]byte(f)) })
	}
	return explain(pk.best, pk.file)
}

func (idx *Index) assessFiles(p inventory.Package, files []string, err error) result {
	if err != nil {
		return result{why: fmt.Sprintf("exposure not assessed: %v", err)}
	}
	if files == nil {
		return result{why: fmt.Sprintf("exposure not assessed: package %q not in the apk database", p.Name)}
	}
	pk := &picker{idx: idx}
	for _, f := range files {
		pk.visit([]byte(f))
	}
	return explain(pk.best, pk.file)
}

// explain words the verdict for the most exposed load of a package's file.
func explain(l load, file string) result {
	if l.p == nil {
		return result{}
	}
	who := fmt.Sprintf("%s (pid %d)", l.p.exe, l.p.pid)
	if l.p.exe == "" {
		who = fmt.Sprintf("pid %d", l.p.pid)
	}
	// "/usr/sbin/nginx (pid 812) listens on ..." when the file is the
	// executable itself, else "... loads /usr/lib/.../libssl.so.3 and ...".
	what := ""
	if file != l.p.exe {
		what = " loads " + file
	}
	if l.deleted {
		what += " (deleted: replaced on disk since it was loaded)"
	}
	if what != "" {
		what += " and"
	}
	switch l.p.rank() {
	case 2:
		return result{exposed: true, why: fmt.Sprintf("%s%s listens on %s", who, what, list(l.p.exposed))}
	case 1:
		return result{why: fmt.Sprintf("%s%s listens only on non-exposed %s", who, what, list(l.p.local))}
	}
	if what == "" {
		return result{why: who + " runs it but does not listen"}
	}
	return result{why: fmt.Sprintf("%s%s does not listen", who, what)}
}

// list names up to three addresses.
func list(addrs []string) string {
	if len(addrs) <= 3 {
		return strings.Join(addrs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(addrs[:3], ", "), len(addrs)-3)
}

// readProcs records the files loaded by each process under procPath, with
// the sockets it listens on.
func (idx *Index) readProcs(ctx context.Context, procPath string, socks []inventory.Port) error {
	listeners := map[int]*proc{}
	for _, s := range socks {
		a := net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
		if s.Protocol != "tcp" {
			a += "/" + s.Protocol
		}
		for _, pid := range s.PIDs {
			p := listeners[pid]
			if p == nil {
				p = &proc{pid: pid}
				listeners[pid] = p
			}
			if s.Exposed {
				p.exposed = append(p.exposed, a)
			} else {
				p.local = append(p.local, a)
			}
		}
	}
	pids, err := procutil.PIDs(procPath)
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	ns := mountNS(procPath, "self")
	if ns == "" {
		ns = mountNS(procPath, "1")
	}
	r := procReader{buf: make([]byte, 0, 64<<10)}
	for _, pid := range pids {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(procPath, strconv.Itoa(pid))
		if ns != "" {
			if n := mountNS(procPath, strconv.Itoa(pid)); n != "" && n != ns {
				continue
			}
		}
		p := listeners[pid]
		if p == nil {
			p = &proc{pid: pid}
		}
		if l, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
			p.exe = idx.normalize(strings.TrimSuffix(l, " (deleted)"))
		}
		r.readMaps(filepath.Join(dir, "maps"), func(file string, deleted bool) {
			idx.record(file, load{p: p, deleted: deleted})
		})
		if p.exe != "" {
			idx.record(p.exe, load{p: p})
		}
		if p.rank() > 0 {
			// The JVM reads jars through open files, not mappings.
			readArchiveFDs(filepath.Join(dir, "fd"), func(file string) {
				idx.record(file, load{p: p})
			})
		}
	}
	for _, p := range listeners {
		slices.Sort(p.exposed)
		p.exposed = slices.Compact(p.exposed)
		slices.Sort(p.local)
		p.local = slices.Compact(p.local)
	}
	return nil
}

// record notes that l loads file, keeping the most exposed load.
func (idx *Index) record(file string, l load) {
	file = idx.normalize(file)
	if cur, ok := idx.loaded[file]; !ok || better(l, cur) {
		idx.loaded[file] = l
	}
}

// mountNS returns the mount namespace link of <procPath>/<pid>, or "".
func mountNS(procPath, pid string) string {
	l, err := os.Readlink(filepath.Join(procPath, pid, "ns", "mnt"))
	if err != nil {
		return ""
	}
	return l
}

// readArchiveFDs calls fn with each Java archive a process holds open.
func readArchiveFDs(dir string, fn func(string)) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		l, err := os.Readlink(filepath.Join(dir, n))
		if err != nil || !strings.HasPrefix(l, "/") {
			continue
		}
		switch path.Ext(l) {
		case ".jar", ".war", ".ear":
			fn(l)
		}
	}
}

// usrMergeDirs are the top-level directories that merged-/usr systems
// turn into symlinks to their /usr counterparts.
var usrMergeDirs = []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32", "libo32"}

// mergedUsr returns the directories of usrMergeDirs that are symlinks to
// usr/<dir> in root.
func mergedUsr(root fs.FS) map[string]bool {
	m := map[string]bool{}
	for _, d := range usrMergeDirs {
		l, err := fs.ReadLink(root, d)
		if err != nil {
			continue
		}
		if t := path.Clean(strings.TrimPrefix(l, "/")); t == "usr/"+d {
			m[d] = true
		}
	}
	return m
}

// normalize cleans an absolute path and, on a merged-/usr root, rewrites
// /lib/x to /usr/lib/x, so that a file list's /lib/x86_64-linux-gnu/libc.so.6
// and a mapping's /usr/lib/x86_64-linux-gnu/libc.so.6 meet.
func (idx *Index) normalize(p string) string {
	return string(idx.appendNormal(nil, []byte(p)))
}

// appendNormal appends the normal form of p (see normalize) to dst.
func (idx *Index) appendNormal(dst, p []byte) []byte {
	if !isClean(p) {
		p = []byte(path.Clean("/" + string(p)))
	}
	if len(idx.merged) > 0 {
		first, _, _ := bytes.Cut(p[1:], []byte{'/'})
		if idx.merged[string(first)] {
			dst = append(dst, "/usr"...)
		}
	}
	return append(dst, p...)
}

// isClean reports whether p is an absolute path that path.Clean leaves
// unchanged.
func isClean(p []byte) bool {
	if len(p) == 0 || p[0] != '/' {
		return false
	}
	if len(p) == 1 {
		return true
	}
	if p[len(p)-1] == '/' {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		// p[i+1:] starts a component: it must not be "", "." or "..".
		rest := p[i+1:]
		if len(rest) == 0 || rest[0] == '/' {
			return false
		}
		if rest[0] == '.' && (len(rest) == 1 || rest[1] == '/' || (rest[1] == '.' && (len(rest) == 2 || rest[2] == '/'))) {
			return false
		}
	}
	return true
}
