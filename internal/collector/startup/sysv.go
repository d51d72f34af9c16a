package startup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/systemd"
)

// initDirs hold init scripts: Debian and Alpine use /etc/init.d; Red Hat
// keeps them in /etc/rc.d/init.d and links /etc/init.d there.
var initDirs = []string{"etc/init.d", "etc/rc.d/init.d"}

// sysvLevels are the SysV runlevels with an rc<level>.d directory.
const sysvLevels = "S0123456"

// initScripts reports the executable scripts of the init.d directories:
// as OpenRC services when /etc/runlevels exists, else as SysV scripts
// with the runlevels whose rc?.d directories start them.
func (s *scan) initScripts() {
	type script struct{ name, path string }
	var scripts []script
	seen := make(map[string]bool)
	for _, dir := range initDirs {
		real, err := systemd.ResolvePath(s.FS, dir)
		if err != nil || seen[real] {
			continue
		}
		seen[real] = true
		for _, e := range s.ReadDirResolved(real) {
			p := path.Join(real, e.Name())
			if _, fi, err := s.Stat(p); err != nil || !isExec(fi) || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			scripts = append(scripts, script{e.Name(), p})
		}
	}
	if _, err := fs.Stat(s.FS, "etc/runlevels"); err == nil {
		s.Found = true
		levels := s.openrcLevels()
		for _, sc := range scripts {
			s.items = append(s.items, inventory.StartupItem{
				Type: "openrc", Name: sc.name, Source: "/" + sc.path, Command: "/" + sc.path, User: "root",
				Enabled: bootLevel(levels[sc.name]), Details: details("runlevels", strings.Join(levels[sc.name], ",")),
			})
		}
		s.localD(bootLevel(levels["local"]))
		return
	}
	levels := s.sysvLevels()
	for _, sc := range scripts {
		lv := levels[sc.name]
		native := ""
		if s.tree != nil && s.tree.HasFile(sc.name+".service") && !s.tree.Masked(sc.name+".service") {
			// systemd-sysv-generator ignores a script with a native unit.
			native = sc.name + ".service"
		}
		s.items = append(s.items, inventory.StartupItem{
			Type: "sysv", Name: sc.name, Source: "/" + sc.path, Command: "/" + sc.path + " start", User: "root",
			Enabled: strings.Trim(lv, "06") != "", Details: details("runlevels", lv, "native_unit", native),
		})
	}
}

// sysvLevels maps a script name to the runlevels ("2345", "S") whose
// rc?.d directory holds an S link to it.
func (s *scan) sysvLevels() map[string]string {
	levels := make(map[string]string)
	seen := make(map[string]bool)
	for _, lv := range sysvLevels {
		for _, dir := range []string{"etc/rc" + string(lv) + ".d", "etc/rc.d/rc" + string(lv) + ".d"} {
			real, err := systemd.ResolvePath(s.FS, dir)
			if err != nil || seen[real] {
				continue
			}
			seen[real] = true
			for _, e := range s.ReadDirResolved(real) {
				n := e.Name()
				if len(n) < 4 || n[0] != 'S' || n[1] < '0' || n[1] > '9' || n[2] < '0' || n[2] > '9' {
					continue
				}
				name := n[3:]
				if target, err := fs.ReadLink(s.FS, path.Join(real, n)); err == nil {
					name = path.Base(target)
				}
				if !strings.ContainsRune(levels[name], lv) {
					levels[name] += string(lv)
				}
			}
		}
	}
	return levels
}

// openrcLevels maps a service to the OpenRC runlevels
// (/etc/runlevels/<level>/<service>) that start it.
func (s *scan) openrcLevels() map[string][]string {
	levels := make(map[string][]string)
	for _, e := range s.ReadDirResolved("etc/runlevels") {
		if !e.IsDir() {
			continue
		}
		for _, svc := range s.ReadDirResolved(path.Join("etc/runlevels", e.Name())) {
			if !svc.IsDir() { // stacked runlevels are directories
				levels[svc.Name()] = append(levels[svc.Name()], e.Name())
			}
		}
	}
	for _, l := range levels {
		slices.Sort(l)
	}
	return levels
}

// bootLevel reports whether a service is in a runlevel entered at boot.
func bootLevel(levels []string) bool {
	for _, l := range levels {
		if l != "shutdown" {
			return true
		}
	}
	return false
}

// localD reports OpenRC's /etc/local.d/*.start scripts, run by the
// "local" service when they are executable.
func (s *scan) localD(localEnabled bool) {
	for _, e := range s.ReadDirResolved("etc/local.d") {
		if !strings.HasSuffix(e.Name(), ".start") {
			continue
		}
		p := path.Join("etc/local.d", e.Name())
		real, fi, err := s.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		s.scriptItem("local_d", e.Name(), real, localEnabled && isExec(fi))
	}
}

// kernelModules reports the modules loaded in the running kernel. A
// kernel without module support has no /proc/modules: nothing to report.
func (s *scan) kernelModules(procPath string) {
	p := path.Join(procPath, "modules")
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		s.Problems.Addf("open %q: %v", p, err)
		return
	}
	defer f.Close()
	s.Found = true
	mods, bad, err := parseProcModules(f)
	if err != nil {
		s.Problems.Addf("read %q: %v", p, err)
		return
	}
	for _, b := range bad {
		s.Problems.Addf("%s:%d: %s", p, b.Line, b.Msg)
	}
	for _, m := range mods {
		s.items = append(s.items, inventory.StartupItem{
			Type: "kernel_module", Name: m.Name, Source: p, Enabled: true,
			Details: details(
				"state", m.State, "size", fmt.Sprint(m.Size), "refcount", m.RefCount,
				"used_by", strings.Join(m.UsedBy, ","), "taint", m.Taint,
			),
		})
	}
}
