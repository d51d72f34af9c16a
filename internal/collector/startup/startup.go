// Package startup collects what runs at boot or login: enabled systemd
// services, SysV init scripts and their runlevel links, OpenRC services
// and /etc/local.d scripts, rc.local, login profile scripts, preloaded
// libraries (/etc/ld.so.preload), modules loaded at boot, and the kernel
// modules loaded now.
package startup

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/internal/rootread"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/systemd"
)

// Name is the collector's name and JSON category key.
const Name = "startup_items"

type startupCollector struct{}

// New returns the startup_items collector.
func New() collector.Collector { return startupCollector{} }

func (startupCollector) Name() string                       { return Name }
func (startupCollector) Version() int                       { return 1 }
func (startupCollector) Requirements() *plugin.Capabilities { return &plugin.Capabilities{Root: true} }

// Collect reads the boot and login configuration of in.Root, and the
// loaded kernel modules from in.ProcPath when there is a procfs.
func (startupCollector) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	s := &scan{ctx: ctx, Reader: rootread.Reader{FS: in.Root}}
	steps := []func(){s.systemdUnits, s.initScripts, s.rcLocal, s.profile, s.ldPreload, s.modulesLoad}
	if in.ProcPath != "" {
		steps = append(steps, func() { s.kernelModules(in.ProcPath) })
	}
	if err := s.Run(ctx, steps...); err != nil {
		return nil, err
	}
	if !s.Found {
		return nil, plugin.Skip("no init system, rc.local, profile or module configuration in the root")
	}
	return &inventory.Inventory{StartupItems: s.items}, s.Problems.Err()
}

type scan struct {
	rootread.Reader
	ctx   context.Context
	items []inventory.StartupItem
	tree  *systemd.Tree
}

func isExec(fi fs.FileInfo) bool { return fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 }

// details drops empty values and returns nil for an empty map.
func details(kv ...string) map[string]string {
	var m map[string]string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[kv[i]] = kv[i+1]
	}
	return m
}

// systemdUnits reports each service linked from the .wants, .requires or
// .upholds directory of a target reached on a normal boot.
func (s *scan) systemdUnits() {
	tree, problems := systemd.Load(s.ctx, s.FS)
	s.tree = tree
	for _, p := range problems {
		s.Problems.Add(p)
	}
	if len(tree.Dirs()) > 0 {
		s.Found = true
	}
	for _, name := range tree.Names(".service") {
		if s.ctx.Err() != nil {
			return
		}
		by := tree.EnabledBy(name)
		if len(by) == 0 {
			continue
		}
		item := inventory.StartupItem{Type: "systemd", Name: name, User: "root", Enabled: tree.Enabled(name)}
		masked := ""
		if tree.Masked(name) {
			masked = "true"
		}
		u, problems, err := tree.Unit(name)
		if err != nil {
			// systemd cannot load it: it will not start.
			s.Problems.Add(err)
			item.Enabled = false
			item.Source = tree.Links(name)[0].Path
			item.Details = details("enabled_by", strings.Join(by, ","), "masked", masked)
			s.items = append(s.items, item)
			continue
		}
		for _, p := range problems {
			s.Problems.Add(p)
		}
		item.Source = u.Path
		item.Command = strings.Join(u.Values("Service", "ExecStart"), "; ")
		if user := u.Value("Service", "User"); user != "" {
			item.User = user
		}
		item.Details = details(
			"enabled_by", strings.Join(by, ","),
			"wanted_by", strings.Join(u.Words("Install", "WantedBy"), ","),
			"required_by", strings.Join(u.Words("Install", "RequiredBy"), ","),
			"drop_ins", strings.Join(u.DropIns, ","),
			"service_type", u.Value("Service", "Type"),
			"masked", masked,
		)
		s.items = append(s.items, item)
	}
}

// rcLocal reports /etc/rc.local (Red Hat: /etc/rc.d/rc.local) when it
// holds more than comments and "exit 0"; it runs at boot only when
// executable (systemd's rc-local generator checks the same).
func (s *scan) rcLocal() {
	seen := make(map[string]bool)
	for _, p := range []string{"etc/rc.local", "etc/rc.d/rc.local"} {
		real, fi, err := s.Stat(p)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.Problems.Addf("stat %q: %v", "/"+p, err)
			}
			continue
		}
		if seen[real] || !fi.Mode().IsRegular() {
			continue
		}
		seen[real] = true
		s.scriptItem("rc_local", "rc.local", real, isExec(fi))
	}
}

// scriptItem reports a shell script whose content is its command.
func (s *scan) scriptItem(typ, name, p string, enabled bool) {
	f := s.Open(p)
	if f == nil {
		return
	}
	defer f.Close()
	content, err := scriptContent(f)
	if err != nil {
		s.Problems.Addf("read %q: %v", "/"+p, err)
		return
	}
	if content == "" {
		return
	}
	s.items = append(s.items, inventory.StartupItem{
		Type: typ, Name: name, Source: "/" + p, Command: content, User: "root", Enabled: enabled,
	})
}

// profile reports /etc/profile and the files of /etc/profile.d, which
// login shells source. Shells of the sh family source only *.sh there.
func (s *scan) profile() {
	if _, fi, err := s.Stat("etc/profile"); err == nil && fi.Mode().IsRegular() {
		s.Found = true
		s.items = append(s.items, inventory.StartupItem{Type: "profile_d", Name: "profile", Source: "/etc/profile", Enabled: true})
	}
	for _, e := range s.ReadDirResolved("etc/profile.d") {
		p := path.Join("etc/profile.d", e.Name())
		if _, fi, err := s.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		s.items = append(s.items, inventory.StartupItem{
			Type: "profile_d", Name: e.Name(), Source: "/" + p, Enabled: strings.HasSuffix(e.Name(), ".sh"),
		})
	}
}

// ldPreload reports each library /etc/ld.so.preload makes the dynamic
// loader inject into every program: a classic rootkit trace.
func (s *scan) ldPreload() {
	const p = "etc/ld.so.preload"
	f := s.Open(p)
	if f == nil {
		return
	}
	defer f.Close()
	libs, err := parsePreload(f)
	if err != nil {
		s.Problems.Addf("read %q: %v", "/"+p, err)
		return
	}
	for _, lib := range libs {
		missing := ""
		if _, _, err := s.Stat(strings.TrimPrefix(path.Clean(lib), "/")); err != nil {
			missing = "true"
		}
		s.items = append(s.items, inventory.StartupItem{
			Type: "ld_so_preload", Name: lib, Source: "/" + p, Enabled: true, Details: details("missing", missing),
		})
	}
}

// modulesLoadDirs are read by systemd-modules-load, highest precedence
// first; a file name in an earlier directory hides the same name later.
var modulesLoadDirs = []string{
	"etc/modules-load.d", "run/modules-load.d", "usr/local/lib/modules-load.d",
	"usr/lib/modules-load.d", "lib/modules-load.d",
}

// modulesLoad reports the modules loaded at boot by systemd-modules-load
// (modules-load.d/*.conf, in file name order) and Debian's /etc/modules.
func (s *scan) modulesLoad() {
	files := make(map[string]string) // conf name -> unrooted path, "" if masked
	seenDir := make(map[string]bool)
	for _, dir := range modulesLoadDirs {
		real, err := systemd.ResolvePath(s.FS, dir)
		if err != nil || seenDir[real] {
			continue
		}
		seenDir[real] = true
		for _, e := range s.ReadDirResolved(real) {
			if _, ok := files[e.Name()]; ok || !strings.HasSuffix(e.Name(), ".conf") {
				continue
			}
			p := path.Join(real, e.Name())
			if target, err := fs.ReadLink(s.FS, p); err == nil && target == "/dev/null" {
				p = ""
			}
			files[e.Name()] = p
		}
	}
	names := make([]string, 0, len(files))
	for n, p := range files {
		if p != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	read := make(map[string]bool)
	for _, n := range names {
		s.moduleFile(files[n], read)
	}
	s.moduleFile("etc/modules", read)
}

func (s *scan) moduleFile(p string, read map[string]bool) {
	real, err := systemd.ResolvePath(s.FS, p)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.Problems.Addf("resolve %q: %v", "/"+p, err)
		}
		return // Debian links modules-load.d/modules.conf to a maybe missing ../modules
	}
	if read[real] {
		return
	}
	read[real] = true
	f := s.Open(real)
	if f == nil {
		return
	}
	defer f.Close()
	mods, err := parseModulesList(f)
	if err != nil {
		s.Problems.Addf("read %q: %v", "/"+real, err)
		return
	}
	for _, m := range mods {
		s.items = append(s.items, inventory.StartupItem{
			Type: "modules_load", Name: m.Name, Source: "/" + real, Enabled: true, Details: details("args", m.Args),
		})
	}
}
