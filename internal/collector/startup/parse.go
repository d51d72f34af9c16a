package startup

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/textio"
)

// maxLine bounds one line of the files read here; longer lines are cut.
const maxLine = 64 << 10

// maxCommand bounds the script text kept as a command.
const maxCommand = 4096

// scriptContent returns the lines of a shell script that do something:
// not blank, not comments (the "#!" line included) and not a bare
// "exit 0", joined by newlines and cut at maxCommand bytes.
func scriptContent(r io.Reader) (string, error) {
	var b strings.Builder
	lr := textio.NewReader(r, maxLine)
	for b.Len() < maxCommand && lr.Next() {
		l := strings.TrimSpace(lr.Text())
		if l == "" || l[0] == '#' || l == "exit 0" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
	}
	out := b.String()
	if len(out) > maxCommand {
		out = out[:maxCommand]
	}
	return out, lr.Err()
}

// parsePreload reads /etc/ld.so.preload as ld.so does: library names
// separated by blanks, tabs, newlines or colons. Lines starting with '#'
// are skipped (ld.so would try to load them and fail).
func parsePreload(r io.Reader) ([]string, error) {
	var libs []string
	lr := textio.NewReader(r, maxLine)
	for lr.Next() {
		l := strings.TrimSpace(lr.Text())
		if l == "" || l[0] == '#' {
			continue
		}
		libs = append(libs, strings.FieldsFunc(l, func(c rune) bool {
			return c == ' ' || c == '\t' || c == ':'
		})...)
	}
	return libs, lr.Err()
}

// moduleLine is one module of modules-load.d or /etc/modules.
type moduleLine struct {
	Line int
	Name string
	// Args are module parameters, allowed in Debian's /etc/modules.
	Args string
}

// parseModulesList reads modules-load.d(5) syntax: one module per line,
// comments starting with '#' or ';'.
func parseModulesList(r io.Reader) ([]moduleLine, error) {
	var mods []moduleLine
	lr := textio.NewReader(r, maxLine)
	for lr.Next() {
		l := strings.TrimSpace(lr.Text())
		if l == "" || l[0] == '#' || l[0] == ';' {
			continue
		}
		name, args, _ := strings.Cut(l, " ")
		if i := strings.IndexByte(name, '\t'); i >= 0 {
			name, args = name[:i], name[i+1:]+" "+args
		}
		mods = append(mods, moduleLine{Line: lr.Num(), Name: name, Args: strings.TrimSpace(args)})
	}
	return mods, lr.Err()
}

// kmod is one line of /proc/modules.
type kmod struct {
	Line     int
	Name     string
	Size     uint64
	RefCount string // a number, or "-" when the module cannot be unloaded
	UsedBy   []string
	State    string // Live, Loading or Unloading
	Address  string
	Taint    string // "(OE)" etc.
}

type lineError struct {
	Line int
	Msg  string
}

// parseProcModules reads /proc/modules, whose lines are written by the
// kernel's m_show as "name size refcount deps state address [taints]",
// for example:
//
//	nf_tables 274432 1 nft_chain_nat, Live 0xffffffffc0a2f000
//	vboxdrv 696320 2 vboxnetadp,vboxnetflt, Live 0x0000000000000000 (OE)
func parseProcModules(r io.Reader) ([]kmod, []lineError, error) {
	var mods []kmod
	var bad []lineError
	lr := textio.NewReader(r, maxLine)
	for lr.Next() {
		line := lr.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		m, err := parseKmod(line)
		if err != nil || lr.Long() {
			if lr.Long() {
				err = fmt.Errorf("line longer than %d bytes", maxLine)
			}
			bad = append(bad, lineError{lr.Num(), err.Error()})
			continue
		}
		m.Line = lr.Num()
		mods = append(mods, m)
	}
	return mods, bad, lr.Err()
}

func parseKmod(line string) (kmod, error) {
	var m kmod
	f := strings.Fields(line)
	if len(f) < 6 || len(f) > 7 {
		return m, fmt.Errorf("%d fields, want 6 or 7", len(f))
	}
	m.Name, m.RefCount, m.State, m.Address = f[0], f[2], f[4], f[5]
	size, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return m, fmt.Errorf("bad size %q", f[1])
	}
	m.Size = size
	if m.RefCount != "-" {
		if _, err := strconv.ParseUint(m.RefCount, 10, 32); err != nil {
			return m, fmt.Errorf("bad reference count %q", m.RefCount)
		}
	}
	if f[3] != "-" {
		for _, d := range strings.Split(f[3], ",") {
			if d != "" {
				m.UsedBy = append(m.UsedBy, d)
			}
		}
	}
	switch m.State {
	case "Live", "Loading", "Unloading":
	default:
		return m, fmt.Errorf("bad state %q", m.State)
	}
	if !strings.HasPrefix(m.Address, "0x") {
		return m, fmt.Errorf("bad address %q", m.Address)
	}
	if _, err := strconv.ParseUint(m.Address[2:], 16, 64); err != nil {
		return m, fmt.Errorf("bad address %q", m.Address)
	}
	if len(f) == 7 {
		m.Taint = f[6]
		if len(m.Taint) < 3 || m.Taint[0] != '(' || m.Taint[len(m.Taint)-1] != ')' {
			return m, fmt.Errorf("bad taint flags %q", m.Taint)
		}
	}
	return m, nil
}
