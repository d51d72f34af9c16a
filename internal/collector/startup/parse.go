package startup

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxLine bounds one line of the files read here; longer lines are cut.
const maxLine = 64 << 10

// maxCommand bounds the script text kept as a command.
const maxCommand = 4096

// eachLine calls fn with every line of r (1-based number, text without
// "\n" or "\r\n", and whether it was cut at maxLine) until fn returns false.
func eachLine(r io.Reader, fn func(n int, line string, long bool) bool) error {
	br := bufio.NewReaderSize(r, 4096)
	var buf []byte
	for n := 1; ; n++ {
		buf = buf[:0]
		long := false
		var err error
		for {
			var frag []byte
			frag, err = br.ReadSlice('\n')
			if len(buf)+len(frag) > maxLine {
				long = true
				frag = frag[:max(0, maxLine-len(buf))]
			}
			buf = append(buf, frag...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return err
		}
		if err == io.EOF && len(buf) == 0 {
			return nil
		}
		line := strings.TrimSuffix(strings.TrimSuffix(string(buf), "\n"), "\r")
		if !fn(n, line, long) || err == io.EOF {
			return nil
		}
	}
}

// scriptContent returns the lines of a shell script that do something:
// not blank, not comments (the "#!" line included) and not a bare
// "exit 0", joined by newlines and cut at maxCommand bytes.
func scriptContent(r io.Reader) (string, error) {
	var b strings.Builder
	err := eachLine(r, func(_ int, line string, _ bool) bool {
		l := strings.TrimSpace(line)
		if l == "" || l[0] == '#' || l == "exit 0" {
			return true
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(l)
		return b.Len() < maxCommand
	})
	out := b.String()
	if len(out) > maxCommand {
		out = out[:maxCommand]
	}
	return out, err
}

// parsePreload reads /etc/ld.so.preload as ld.so does: library names
// separated by blanks, tabs, newlines or colons. Lines starting with '#'
// are skipped (ld.so would try to load them and fail).
func parsePreload(r io.Reader) ([]string, error) {
	var libs []string
	err := eachLine(r, func(_ int, line string, _ bool) bool {
		l := strings.TrimSpace(line)
		if l == "" || l[0] == '#' {
			return true
		}
		libs = append(libs, strings.FieldsFunc(l, func(c rune) bool {
			return c == ' ' || c == '\t' || c == ':'
		})...)
		return true
	})
	return libs, err
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
	err := eachLine(r, func(n int, line string, _ bool) bool {
		l := strings.TrimSpace(line)
		if l == "" || l[0] == '#' || l[0] == ';' {
			return true
		}
		name, args, _ := strings.Cut(l, " ")
		if i := strings.IndexByte(name, '\t'); i >= 0 {
			name, args = name[:i], name[i+1:]+" "+args
		}
		mods = append(mods, moduleLine{Line: n, Name: name, Args: strings.TrimSpace(args)})
		return true
	})
	return mods, err
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
	err := eachLine(r, func(n int, line string, long bool) bool {
		if strings.TrimSpace(line) == "" {
			return true
		}
		m, err := parseKmod(line)
		if err != nil || long {
			if long {
				err = fmt.Errorf("line longer than %d bytes", maxLine)
			}
			bad = append(bad, lineError{n, err.Error()})
			return true
		}
		m.Line = n
		mods = append(mods, m)
		return true
	})
	return mods, bad, err
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
