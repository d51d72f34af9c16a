// Package middleware recognises server software (web servers, databases,
// caches, queues, container engines, language runtimes and generic Java,
// Python and Node applications) among the running processes, and among
// the installed packages when it is not running.
//
// It builds on the processes, ports and packages collectors (through
// Input.Prior) and never executes a binary. A running server's version
// comes, in this order, from:
//
//  1. the package that installed its executable (or, for a Java server,
//     its jar): the dpkg file lists or the apk database name the package,
//     the packages inventory gives its version. RPM file lists are not
//     read (go-rpmdb would decode every header); on an RPM system a
//     server under /usr is attributed to the installed package of the
//     table when there is one;
//  2. a jar's manifest, pom.properties or Tomcat's ServerInfo.properties
//     ("manifest");
//  3. a Go binary's build information ("buildinfo");
//  4. a version string embedded in the executable, found by a bounded
//     streaming scan ("binary").
//
// Processes inside containers are read through <proc>/<pid>/exe and
// <proc>/<pid>/root, and never matched against the host's packages;
// neither is a process whose executable was replaced on disk.
//
// Every recognised server is a row of the table in table.go.
package middleware

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the collector's name.
const Name = inventory.CategoryMiddleware

// maxInMemory bounds the size of a file read into memory when its
// filesystem gives no random access.
const maxInMemory = 64 << 20

type middleware struct{}

// New returns the middleware collector.
func New() collector.Collector { return middleware{} }

func (middleware) Name() string { return Name }
func (middleware) Version() int { return 1 }
func (middleware) Requirements() *plugin.Capabilities {
	return &plugin.Capabilities{Root: true}
}

// DependsOn names the collectors whose results Collect reads.
func (middleware) DependsOn() []string {
	return []string{inventory.CategoryProcesses, inventory.CategoryPorts, inventory.CategoryPackages}
}

// instance is one running server being described.
type instance struct {
	spec *spec // nil for a generic application
	proc *inventory.Process
	toks []string
	m    inventory.Middleware
	// artifact is the file whose package or metadata gives the version:
	// the executable, or a jar for Java servers.
	artifact string
	jar      bool
}

// container reports whether the instance runs in a container.
func (i *instance) container() bool { return i.proc.ContainerID != "" }

type run struct {
	in       *collector.Input
	prior    *inventory.Inventory
	pkgs     map[string]*inventory.Package
	problems plugin.Problems
}

// Collect recognises middleware among in.Prior's processes and packages.
func (middleware) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	r := &run{in: in, prior: in.Prior, pkgs: map[string]*inventory.Package{}}
	if r.prior == nil {
		r.prior = &inventory.Inventory{}
	}
	for i := range r.prior.Packages {
		p := &r.prior.Packages[i]
		if _, ok := r.pkgs[p.Name]; !ok {
			r.pkgs[p.Name] = p
		}
	}
	insts, err := r.running(ctx)
	if err != nil {
		return nil, err
	}
	r.versions(ctx, insts)

	out := make([]inventory.Middleware, 0, len(insts))
	onHost := map[string]bool{}
	for _, i := range insts {
		out = append(out, i.m)
		if i.spec != nil && !i.container() {
			onHost[i.spec.name] = true
		}
	}
	out = append(out, r.installed(onHost)...)
	sort.SliceStable(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		if x.Running != y.Running {
			return x.Running
		}
		return x.PID < y.PID
	})
	return &inventory.Inventory{Middleware: out}, r.problems.Err()
}

// match returns the spec (or generic application kind) a process is.
func match(p *inventory.Process, toks []string) (*spec, string) {
	names := baseNames(p, toks)
	has := func(pats ...string) bool {
		for _, pat := range pats {
			for _, n := range names {
				if nameMatches(pat, n) {
					return true
				}
			}
		}
		return false
	}
	for _, s := range specs {
		switch s.runtime {
		case runtimeNative:
			if has(s.exes...) {
				return s, ""
			}
		case runtimeJava:
			if has("java") && hasMarker(toks, s.markers) {
				return s, ""
			}
		case runtimeBEAM:
			if has("beam.smp", "beam") && hasMarker(toks, s.markers) {
				return s, ""
			}
		}
	}
	switch {
	case has("java"):
		return nil, appJava
	case has("node", "nodejs"):
		return nil, appNode
	}
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, "python"); ok && strings.Trim(rest, "0123456789.") == "" {
			return nil, appPython
		}
	}
	return nil, ""
}

// hasMarker reports whether an argument is one of markers, or ends in
// "/marker" (a Java module/class).
func hasMarker(toks []string, markers []string) bool {
	for _, t := range toks {
		for _, m := range markers {
			if t == m || strings.HasSuffix(t, "/"+m) {
				return true
			}
		}
	}
	return false
}

// running builds one instance per running server: the top process of
// each, skipping workers whose parent is the same server.
func (r *run) running(ctx context.Context) ([]*instance, error) {
	procs := r.prior.Processes
	type matched struct {
		spec *spec
		key  string
		toks []string
		main map[string]string
	}
	found := make(map[int]*matched)
	children := make(map[int][]int)
	for i := range procs {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		p := &procs[i]
		children[p.PPID] = append(children[p.PPID], p.PID)
		toks := tokens(p)
		s, app := match(p, toks)
		switch {
		case s != nil:
			found[p.PID] = &matched{spec: s, key: s.name, toks: toks}
		case app != "":
			main := appMain(app, toks)
			if len(main) == 0 {
				continue // an interpreter without a program
			}
			key := app
			for _, k := range []string{"main_class", "jar", "script", "module"} {
				key += "\x00" + main[k]
			}
			found[p.PID] = &matched{key: key, toks: toks, main: main}
		}
	}
	portsByPID := map[int][]int{} // pid -> indexes into Ports
	for i, pt := range r.prior.Ports {
		pids := pt.PIDs
		if len(pids) == 0 && pt.PID != 0 {
			pids = []int{pt.PID}
		}
		for _, pid := range pids {
			portsByPID[pid] = append(portsByPID[pid], i)
		}
	}
	var insts []*instance
	for i := range procs {
		p := &procs[i]
		f := found[p.PID]
		if f == nil {
			continue
		}
		if parent := found[p.PPID]; parent != nil && parent.key == f.key && p.PPID != p.PID {
			continue // a worker
		}
		inst := &instance{spec: f.spec, proc: p, toks: f.toks}
		inst.m = inventory.Middleware{
			PID: p.PID, Exe: p.Exe, User: p.User, Running: true,
		}
		if f.spec != nil {
			inst.m.Name, inst.m.Kind = f.spec.name, f.spec.kind
		} else {
			inst.m.Name, inst.m.Kind = strings.SplitN(f.key, "\x00", 2)[0], "app"
			inst.m.Details = f.main
		}
		if p.ContainerID != "" {
			if inst.m.Details == nil {
				inst.m.Details = map[string]string{}
			}
			inst.m.Details["container_id"] = p.ContainerID
		}
		inst.m.Listen = r.listen(p.PID, children, portsByPID)
		r.configs(inst)
		r.findArtifact(inst)
		insts = append(insts, inst)
	}
	return insts, nil
}

// appMain describes what a generic runtime runs: its main class or jar,
// script or module. It is empty for a bare interpreter.
func appMain(app string, toks []string) map[string]string {
	out := map[string]string{}
	switch app {
	case appJava:
		mainClass, jar := javaMain(toks)
		if mainClass != "" {
			out["main_class"] = mainClass
		}
		if jar != "" {
			out["jar"] = jar
		}
	default:
		script, module := scriptOf(toks, app)
		if script != "" {
			out["script"] = script
		}
		if module != "" {
			out["module"] = module
		}
	}
	return out
}

// listen returns the sockets held by pid or its descendants.
func (r *run) listen(pid int, children map[int][]int, portsByPID map[int][]int) []inventory.ListenAddr {
	seen := map[int]bool{pid: true}
	queue := []int{pid}
	var idx []int
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		idx = append(idx, portsByPID[p]...)
		for _, c := range children[p] {
			if !seen[c] {
				seen[c] = true
				queue = append(queue, c)
			}
		}
	}
	sort.Ints(idx)
	var out []inventory.ListenAddr
	dup := map[inventory.ListenAddr]bool{}
	for n, i := range idx {
		if n > 0 && idx[n-1] == i {
			continue
		}
		pt := r.prior.Ports[i]
		la := inventory.ListenAddr{Protocol: pt.Protocol, Address: pt.Address, Port: pt.Port, Exposed: pt.Exposed}
		if !dup[la] {
			dup[la] = true
			out = append(out, la)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.Port != y.Port {
			return x.Port < y.Port
		}
		if x.Protocol != y.Protocol {
			return x.Protocol < y.Protocol
		}
		return x.Address < y.Address
	})
	return out
}

// fsFor returns the filesystem a process sees: the root, or for a
// process in a container its <proc>/<pid>/root.
func (r *run) fsFor(inst *instance) fs.FS {
	if inst.container() {
		if r.in.ProcPath == "" {
			return nil
		}
		return os.DirFS(path.Join(r.in.ProcPath, strconv.Itoa(inst.proc.PID), "root"))
	}
	return r.in.Root
}

// abs makes p absolute against the process's working directory.
func abs(inst *instance, p string) string {
	if p == "" || path.IsAbs(p) {
		return path.Clean(p)
	}
	if inst.proc.CWD != "" {
		return path.Join(inst.proc.CWD, p)
	}
	return p
}

// configs fills ConfigPaths from the command line, else from the
// defaults that exist.
func (r *run) configs(inst *instance) {
	if inst.spec == nil {
		return
	}
	if c := configFromArgs(inst.spec, inst.toks); c != "" {
		inst.m.ConfigPaths = []string{abs(inst, c)}
		return
	}
	inst.m.ConfigPaths = existingDefaults(r.fsFor(inst), inst.spec)
}

// existingDefaults returns the first default config path of s present
// in fsys (every match, for a pattern): the defaults are alternatives,
// one per layout.
func existingDefaults(fsys fs.FS, s *spec) []string {
	if fsys == nil {
		return nil
	}
	for _, c := range s.configs {
		rel := strings.TrimPrefix(c, "/")
		if strings.ContainsAny(rel, "*?[") {
			matches, _ := fs.Glob(fsys, rel)
			if len(matches) == 0 {
				continue
			}
			out := make([]string, len(matches))
			for i, m := range matches {
				out[i] = "/" + m
			}
			return out
		}
		if _, err := fs.Stat(fsys, rel); err == nil {
			return []string{c}
		}
	}
	return nil
}

// findArtifact sets the file that carries the instance's version.
func (r *run) findArtifact(inst *instance) {
	s := inst.spec
	switch {
	case s == nil:
		if jar := inst.m.Details["jar"]; jar != "" {
			inst.artifact, inst.jar = abs(inst, jar), true
		}
	case s.runtime == runtimeNative:
		inst.artifact = inst.proc.Exe
	case s.name == "tomcat":
		home, ok := flagValue(inst.toks, "-Dcatalina.home")
		if !ok {
			home, _ = flagValue(inst.toks, "-Dcatalina.base")
		}
		if home != "" {
			inst.artifact, inst.jar = path.Join(abs(inst, home), "lib/catalina.jar"), true
		}
	case s.jar != "":
		if j := r.findJar(inst); j != "" {
			inst.artifact, inst.jar = j, true
		}
	}
}

// findJar looks for the jar matching inst.spec.jar in the classpath,
// its "dir/*" entries, the module path and <es.path.home>/lib.
func (r *run) findJar(inst *instance) string {
	var dirs []string
	for _, e := range classpath(inst.toks) {
		if d, ok := strings.CutSuffix(e, "/*"); ok {
			dirs = append(dirs, d)
			continue
		}
		if ok, _ := path.Match(inst.spec.jar, path.Base(e)); ok {
			return abs(inst, e)
		}
	}
	for _, f := range []string{"--module-path", "-p"} {
		if v, ok := flagValue(inst.toks, f); ok {
			dirs = append(dirs, strings.Split(v, ":")...)
		}
	}
	if home, ok := flagValue(inst.toks, "-Des.path.home"); ok {
		dirs = append(dirs, path.Join(home, "lib"))
	}
	fsys := r.fsFor(inst)
	if fsys == nil {
		return ""
	}
	for _, d := range dirs {
		d = abs(inst, d)
		matches, _ := fs.Glob(fsys, strings.TrimPrefix(path.Join(d, inst.spec.jar), "/"))
		if len(matches) > 0 {
			return "/" + matches[0]
		}
	}
	return ""
}

// versions fills Version, VersionSource and Package of every instance.
func (r *run) versions(ctx context.Context, insts []*instance) {
	var paths, hints []string
	sources := map[string]bool{}
	for _, i := range insts {
		if i.artifact != "" && r.hostPackaged(i) {
			paths = append(paths, i.artifact)
			if i.spec != nil {
				hints = append(hints, i.spec.packages...)
				if p := r.specPackage(i.spec, ""); p != nil {
					sources[source(p)] = true
				}
			}
		}
	}
	// Packages built from the same source as an installed server package
	// likely ship its files (redis-tools ships redis-server's binary).
	for k := range r.prior.Packages {
		if p := &r.prior.Packages[k]; sources[source(p)] {
			hints = append(hints, p.Name)
		}
	}
	owners := findOwners(ctx, r.in.Root, paths, hints, &r.problems)
	for _, i := range insts {
		if ctx.Err() != nil {
			return
		}
		if r.hostPackaged(i) && r.fromPackages(i, owners) {
			continue
		}
		r.fromFiles(i)
	}
}

// hostPackaged reports whether the instance's artifact may belong to a
// package of the root: it runs on the host from a file still on disk.
func (r *run) hostPackaged(i *instance) bool {
	return !i.container() && !(i.proc.ExeDeleted && !i.jar)
}

var versionSources = map[string]string{"deb": "dpkg", "rpm": "rpm", "apk": "apk"}

// fromPackages sets the version from the package that owns the
// artifact, and reports whether it did.
func (r *run) fromPackages(i *instance, owners map[string]owner) bool {
	o, ok := owners[i.artifact]
	if !ok {
		// No file list names it. A server whose artifact is unknown
		// (rabbitmq), or one under /usr on an RPM system, is attributed
		// to the server package of the table when that is installed.
		if i.spec == nil {
			return false
		}
		p := r.specPackage(i.spec, "")
		if p == nil {
			return false
		}
		under := strings.HasPrefix(i.artifact, "/usr/") && !strings.HasPrefix(i.artifact, "/usr/local/")
		if !(i.artifact == "" || p.Type == "rpm" && under) {
			return false
		}
		r.setPackage(i, p)
		return true
	}
	if o.vers != "" { // apk knows the version itself
		i.m.Package, i.m.Version, i.m.VersionSource = o.pkg, o.vers, versionSources[o.typ]
		return true
	}
	p := r.pkgs[o.pkg]
	if p == nil {
		i.m.Package = o.pkg // the packages inventory is missing
		return false
	}
	// Report the server package of the table rather than a sibling from
	// the same source that ships the file (redis-tools ships the binary
	// redis-server links to).
	if i.spec != nil && !matchAny(i.spec.packages, p.Name) {
		if alt := r.specPackage(i.spec, source(p)); alt != nil && alt.Version == p.Version {
			p = alt
		}
	}
	r.setPackage(i, p)
	return true
}

func (r *run) setPackage(i *instance, p *inventory.Package) {
	i.m.Package, i.m.Version, i.m.VersionSource = p.Name, p.Version, versionSources[p.Type]
}

func source(p *inventory.Package) string {
	if p.SourceName != "" {
		return p.SourceName
	}
	return p.Name
}

// specPackage returns the first installed package matching s.packages,
// in pattern order; with src set, only one built from that source.
func (r *run) specPackage(s *spec, src string) *inventory.Package {
	for _, pat := range s.packages {
		if !strings.ContainsAny(pat, "*?[") {
			if p := r.pkgs[pat]; p != nil && (src == "" || source(p) == src) {
				return p
			}
			continue
		}
		for k := range r.prior.Packages {
			p := &r.prior.Packages[k]
			if ok, _ := path.Match(pat, p.Name); ok && (src == "" || source(p) == src) {
				return p
			}
		}
	}
	return nil
}

// fromFiles reads the version from the artifact itself.
func (r *run) fromFiles(i *instance) {
	if i.artifact == "" {
		return
	}
	if i.jar {
		r.withFile(i, i.artifact, false, func(ra io.ReaderAt, size int64) {
			if i.m.Details == nil {
				i.m.Details = map[string]string{}
			}
			v, err := jarVersion(ra, size, i.m.Details)
			if err != nil {
				r.problems.Addf("%s: read jar: %v", i.artifact, err)
			}
			if len(i.m.Details) == 0 {
				i.m.Details = nil
			}
			if v != "" {
				i.m.Version, i.m.VersionSource = v, "manifest"
			}
		})
		return
	}
	s := i.spec
	if s == nil {
		return
	}
	if s.buildinfo {
		r.withFile(i, i.artifact, true, func(ra io.ReaderAt, _ int64) {
			if v, _ := goVersion(ra); v != "" {
				i.m.Version, i.m.VersionSource = v, "buildinfo"
			}
		})
		if i.m.Version != "" {
			return
		}
	}
	if s.binaryVersion != nil {
		r.withFile(i, i.artifact, true, func(ra io.ReaderAt, size int64) {
			v, err := scanVersion(io.NewSectionReader(ra, 0, size), s.binaryVersion)
			if err != nil {
				r.problems.Addf("%s: scan for version: %v", i.artifact, err)
			}
			if v != "" {
				i.m.Version, i.m.VersionSource = v, "binary"
			}
		})
	}
}

// withFile opens a file of the instance and calls fn with random access
// to it. An executable of a process in a container, or one replaced on
// disk or missing from the root, is read through <proc>/<pid>/exe.
func (r *run) withFile(i *instance, p string, exe bool, fn func(io.ReaderAt, int64)) {
	if !path.IsAbs(p) {
		return // relative to a working directory we do not know
	}
	var f fs.File
	var err error
	procExe := ""
	if exe && r.in.ProcPath != "" {
		procExe = path.Join(r.in.ProcPath, strconv.Itoa(i.proc.PID), "exe")
	}
	switch {
	case procExe != "" && (i.container() || i.proc.ExeDeleted):
		f, err = os.Open(procExe)
	case i.container():
		fsys := r.fsFor(i)
		if fsys == nil {
			return
		}
		f, err = fsys.Open(strings.TrimPrefix(p, "/"))
	default:
		err = fs.ErrNotExist
		if r.in.Root != nil {
			f, err = r.in.Root.Open(strings.TrimPrefix(p, "/"))
		}
		if err != nil && procExe != "" {
			f, err = os.Open(procExe)
		}
	}
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) {
		return // gone, or a relative path with no working directory
	}
	if err != nil {
		r.problems.Addf("%s: %v", p, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		r.problems.Addf("%s: %v", p, err)
		return
	}
	ra, ok := readerAtOf(f, st.Size(), maxInMemory)
	if !ok {
		return
	}
	fn(ra, st.Size())
}

// installed returns the middleware installed as packages whose server
// does not run on the host.
func (r *run) installed(running map[string]bool) []inventory.Middleware {
	var out []inventory.Middleware
	for _, s := range specs {
		if running[s.name] {
			continue
		}
		p := r.specPackage(s, "")
		if p == nil {
			continue
		}
		out = append(out, inventory.Middleware{
			Name: s.name, Kind: s.kind,
			Version: p.Version, VersionSource: versionSources[p.Type], Package: p.Name,
			ConfigPaths: existingDefaults(r.in.Root, s),
		})
	}
	return out
}
