package systemd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// SearchPath lists the system unit directories, highest precedence first
// (systemd.unit(5), without the generator and transient directories that
// exist only at run time). On merged-/usr systems lib/systemd/system is
// the same directory as usr/lib/systemd/system and is read once.
var SearchPath = []string{
	"etc/systemd/system",
	"run/systemd/system",
	"usr/local/lib/systemd/system",
	"usr/lib/systemd/system",
	"lib/systemd/system",
}

// maxLinks bounds symlink chains, as the kernel's MAXSYMLINKS does.
const maxLinks = 40

// ResolvePath resolves every symlink in the unrooted path name inside
// fsys, treating absolute link targets as relative to the root of fsys
// (the root tree may be mounted anywhere), and returns the unrooted real
// path. The last element must exist.
func ResolvePath(fsys fs.FS, name string) (string, error) {
	rest := strings.Split(path.Clean(name), "/")
	done, hops := "", 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if done = path.Dir(done); done == "." {
				done = ""
			}
			continue
		}
		p := path.Join(done, c)
		fi, err := fs.Lstat(fsys, p)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = p
			continue
		}
		if hops++; hops > maxLinks {
			return "", fmt.Errorf("resolve %q: too many levels of symbolic links", name)
		}
		target, err := fs.ReadLink(fsys, p)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = ""
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	if done == "" {
		return ".", nil
	}
	return done, nil
}

// Link is a symlink that enables a unit: an entry of a
// "<target>.wants/", ".requires/" or ".upholds/" directory.
type Link struct {
	// Target is the unit whose directory holds the link ("multi-user.target").
	Target string
	// Kind is "wants", "requires" or "upholds".
	Kind string
	// Path is the link, absolute inside the root.
	Path string
}

type fragment struct {
	path   string // unrooted path in its search directory
	masked bool   // symlink to /dev/null
	alias  bool   // symlink to a unit file of another name
}

// Tree indexes the unit files, drop-ins and enablement links of a root.
type Tree struct {
	fsys fs.FS
	// units holds each name's fragments, highest precedence first.
	units map[string][]fragment
	links map[string][]Link
	// dropins maps a drop-in directory name ("foo.service.d") to its
	// .conf files by file name; the value is the unrooted path, or ""
	// for a drop-in masked by a /dev/null symlink.
	dropins map[string]map[string]string
	dirs    []string
}

// Dirs returns the unit directories Load found, absolute inside the root.
func (t *Tree) Dirs() []string { return t.dirs }

// Load reads the search path of fsys. Directories that do not exist are
// skipped; ones that cannot be read are returned as problems.
func Load(ctx context.Context, fsys fs.FS) (*Tree, []error) {
	t := &Tree{
		fsys:    fsys,
		units:   make(map[string][]fragment),
		links:   make(map[string][]Link),
		dropins: make(map[string]map[string]string),
	}
	var problems []error
	seen := make(map[string]bool)
	for _, dir := range SearchPath {
		if err := ctx.Err(); err != nil {
			return t, append(problems, err)
		}
		real, err := ResolvePath(fsys, dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("resolve %q: %w", "/"+dir, err))
			continue
		}
		if seen[real] {
			continue
		}
		seen[real] = true
		t.dirs = append(t.dirs, "/"+real)
		problems = append(problems, t.readDir(real)...)
	}
	return t, problems
}

func (t *Tree) readDir(dir string) []error {
	entries, err := fs.ReadDir(t.fsys, dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return []error{fmt.Errorf("read unit directory %q: %w", "/"+dir, err)}
	}
	var problems []error
	for _, e := range entries {
		name := e.Name()
		p := path.Join(dir, name)
		isDir := e.IsDir()
		isLink := e.Type()&fs.ModeSymlink != 0
		if isLink && (strings.HasSuffix(name, ".d") || hasLinkDirSuffix(name)) {
			if real, err := ResolvePath(t.fsys, p); err == nil {
				if fi, err := fs.Stat(t.fsys, real); err == nil && fi.IsDir() {
					isDir, p = true, real
				}
			}
		}
		switch {
		case isDir && strings.HasSuffix(name, ".d"):
			problems = append(problems, t.readDropIns(p, name)...)
		case isDir && hasLinkDirSuffix(name):
			problems = append(problems, t.readLinks(p, name)...)
		case isDir || !IsUnitName(name):
		case isLink:
			target, err := fs.ReadLink(t.fsys, p)
			if err != nil {
				problems = append(problems, fmt.Errorf("read link %q: %w", "/"+p, err))
				continue
			}
			f := fragment{path: p, masked: target == "/dev/null"}
			f.alias = !f.masked && path.Base(target) != name && IsUnitName(path.Base(target))
			t.units[name] = append(t.units[name], f)
		case e.Type().IsRegular():
			t.units[name] = append(t.units[name], fragment{path: p})
		}
	}
	return problems
}

func hasLinkDirSuffix(name string) bool {
	return strings.HasSuffix(name, ".wants") || strings.HasSuffix(name, ".requires") ||
		strings.HasSuffix(name, ".upholds")
}

func (t *Tree) readLinks(dir, name string) []error {
	entries, err := fs.ReadDir(t.fsys, dir)
	if err != nil {
		return []error{fmt.Errorf("read %q: %w", "/"+dir, err)}
	}
	dot := strings.LastIndexByte(name, '.')
	target, kind := name[:dot], name[dot+1:]
	for _, e := range entries {
		u := e.Name()
		if !IsUnitName(u) || e.IsDir() {
			continue
		}
		dup := false
		for _, l := range t.links[u] {
			dup = dup || (l.Target == target && l.Kind == kind)
		}
		if !dup {
			t.links[u] = append(t.links[u], Link{Target: target, Kind: kind, Path: "/" + path.Join(dir, u)})
		}
	}
	return nil
}

func (t *Tree) readDropIns(dir, name string) []error {
	entries, err := fs.ReadDir(t.fsys, dir)
	if err != nil {
		return []error{fmt.Errorf("read %q: %w", "/"+dir, err)}
	}
	m := t.dropins[name]
	if m == nil {
		m = make(map[string]string)
		t.dropins[name] = m
	}
	var problems []error
	for _, e := range entries {
		f := e.Name()
		if !strings.HasSuffix(f, ".conf") || e.IsDir() {
			continue
		}
		if _, ok := m[f]; ok {
			continue // a higher-precedence directory has this file
		}
		p := path.Join(dir, f)
		if e.Type()&fs.ModeSymlink != 0 {
			target, err := fs.ReadLink(t.fsys, p)
			if err != nil {
				problems = append(problems, fmt.Errorf("read link %q: %w", "/"+p, err))
				continue
			}
			if target == "/dev/null" {
				p = ""
			}
		}
		m[f] = p
	}
	return problems
}

// unitSuffixes are the unit types systemd knows.
var unitSuffixes = []string{
	".service", ".socket", ".target", ".timer", ".path", ".mount", ".automount",
	".swap", ".device", ".slice", ".scope",
}

// IsUnitName reports whether name ends in a unit type suffix and has a
// non-empty prefix.
func IsUnitName(name string) bool {
	for _, s := range unitSuffixes {
		if len(name) > len(s) && strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// Template returns the template of an instance name ("getty@tty1.service"
// -> "getty@.service"), or "" when name is not an instance.
func Template(name string) string {
	at := strings.IndexByte(name, '@')
	dot := strings.LastIndexByte(name, '.')
	if at < 0 || dot < at+2 {
		return ""
	}
	return name[:at+1] + name[dot:]
}

func isTemplate(name string) bool {
	at := strings.IndexByte(name, '@')
	return at >= 0 && at+1 == strings.LastIndexByte(name, '.')
}

// Names returns the sorted names of the units of one type (suffix
// ".timer") that can run: units with a unit file, except templates and
// aliases, and instances that are linked from a .wants directory.
func (t *Tree) Names(suffix string) []string {
	var out []string
	for name, fr := range t.units {
		if strings.HasSuffix(name, suffix) && !isTemplate(name) && !fr[0].alias {
			out = append(out, name)
		}
	}
	for name := range t.links {
		if _, ok := t.units[name]; !ok && strings.HasSuffix(name, suffix) && !isTemplate(name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// HasFile reports whether the unit (or its template) has a unit file in
// the search path that is not a mask.
func (t *Tree) HasFile(name string) bool {
	for _, n := range []string{name, Template(name)} {
		for _, f := range t.units[n] {
			if !f.masked {
				return true
			}
		}
	}
	return false
}

// Links returns the enablement links of a unit, in search path order.
func (t *Tree) Links(name string) []Link { return t.links[name] }

// Masked reports whether the unit (or its template) is masked: its unit
// file of highest precedence is a symlink to /dev/null or empty.
func (t *Tree) Masked(name string) bool {
	for _, n := range []string{name, Template(name)} {
		fr := t.units[n]
		if len(fr) == 0 {
			continue
		}
		if fr[0].masked {
			return true
		}
		real, err := ResolvePath(t.fsys, fr[0].path)
		if err != nil {
			return false
		}
		fi, err := fs.Stat(t.fsys, real)
		return err == nil && fi.Mode().IsRegular() && fi.Size() == 0
	}
	return false
}

// notBoot lists targets whose links do not start a unit on a normal boot.
func notBoot(target string) bool {
	switch target {
	case "rescue.target", "emergency.target", "shutdown.target", "halt.target", "poweroff.target",
		"reboot.target", "kexec.target", "final.target", "system-update.target",
		"system-update-pre.target":
		return true
	}
	return strings.HasPrefix(target, "initrd")
}

// Enabled reports whether the unit is linked from the .wants, .requires
// or .upholds directory of a unit started on a normal boot, and not
// masked. Links under usr/lib count: they are the vendor's static
// enablements.
func (t *Tree) Enabled(name string) bool {
	if t.Masked(name) {
		return false
	}
	for _, l := range t.links[name] {
		if !notBoot(l.Target) {
			return true
		}
	}
	return false
}

// EnabledBy returns the sorted targets whose links enable the unit on a
// normal boot.
func (t *Tree) EnabledBy(name string) []string {
	var out []string
	for _, l := range t.links[name] {
		if !notBoot(l.Target) {
			out = append(out, l.Target)
		}
	}
	sort.Strings(out)
	return out
}

// fragmentPath returns the unrooted unit file to read for name: the
// highest-precedence one that is not a mask, for the instance and then
// its template, else the target of an enablement link ("systemctl link").
func (t *Tree) fragmentPath(name string) (string, error) {
	for _, n := range []string{name, Template(name)} {
		for _, f := range t.units[n] {
			if !f.masked {
				return ResolvePath(t.fsys, f.path)
			}
		}
	}
	for _, l := range t.links[name] {
		p, err := ResolvePath(t.fsys, strings.TrimPrefix(l.Path, "/"))
		if err == nil && p != "dev/null" {
			return p, nil
		}
	}
	return "", fmt.Errorf("unit %q: %w", name, fs.ErrNotExist)
}

// dropInDirs lists the drop-in directory names that apply to name, most
// specific first: "a-b@i.service.d", "a-b@.service.d", "a-b-.service.d"
// ... "a-.service.d", "service.d".
func dropInDirs(name string) []string {
	dirs := []string{name + ".d"}
	if tmpl := Template(name); tmpl != "" {
		dirs = append(dirs, tmpl+".d")
	}
	dot := strings.LastIndexByte(name, '.')
	prefix, suffix := name[:dot], name[dot:]
	if at := strings.IndexByte(prefix, '@'); at >= 0 {
		prefix = prefix[:at]
	}
	for i := len(prefix) - 1; i > 0; i-- {
		if prefix[i] == '-' {
			dirs = append(dirs, prefix[:i+1]+suffix+".d")
		}
	}
	return append(dirs, suffix[1:]+".d")
}

// Unit reads the unit file of name and applies its drop-ins in file name
// order. Malformed lines are returned as problems ("/path:line: msg"); the
// error is set when the unit file cannot be found or read.
func (t *Tree) Unit(name string) (*Unit, []error, error) {
	frag, err := t.fragmentPath(name)
	if err != nil {
		return nil, nil, err
	}
	u := &Unit{Name: name, Path: "/" + frag}
	problems, err := t.apply(u, frag)
	if err != nil {
		return nil, nil, err
	}
	files := make(map[string]string)
	for _, d := range dropInDirs(name) {
		for f, p := range t.dropins[d] {
			if _, ok := files[f]; !ok {
				files[f] = p
			}
		}
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		p := files[f]
		if p == "" {
			continue
		}
		if real, err := ResolvePath(t.fsys, p); err == nil {
			p = real
		}
		perr, err := t.apply(u, p)
		if err != nil {
			problems = append(problems, err)
			continue
		}
		u.DropIns = append(u.DropIns, "/"+p)
		problems = append(problems, perr...)
	}
	return u, problems, nil
}

func (t *Tree) apply(u *Unit, p string) ([]error, error) {
	f, err := t.fsys.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open unit file: %w", err)
	}
	defer f.Close()
	entries, bad, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", "/"+p, err)
	}
	u.Apply(entries)
	problems := make([]error, 0, len(bad))
	for _, b := range bad {
		problems = append(problems, fmt.Errorf("/%s:%d: %s", p, b.Line, b.Msg))
	}
	return problems, nil
}
