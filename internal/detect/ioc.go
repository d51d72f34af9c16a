package detect

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"
)

// LoadIOC reads the IOC sets in dir of fsys: one set per *.txt file, named
// after the file ("mining_pools.txt" is set "mining_pools"), one entry per
// line, blank lines and "#" comments ignored. A missing dir is no sets.
func LoadIOC(fsys fs.FS, dir string) (map[string][]string, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.txt"))
	if err != nil {
		return nil, fmt.Errorf("ioc dir %q: %w", dir, err)
	}
	sort.Strings(names)
	sets := map[string][]string{}
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("ioc: %w", err)
		}
		entries, err := parseIOC(name, data)
		if err != nil {
			return nil, err
		}
		sets[strings.TrimSuffix(path.Base(name), ".txt")] = entries
	}
	return sets, nil
}

func parseIOC(name string, data []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if _, err := normalizeIOC(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// normalizeIOC turns an entry into its lookup form: lower case, without a
// URL scheme, path, "*." prefix or trailing dot; "host:port" and
// "ip:port" keep their port. IPv6 addresses are in netip's form.
func normalizeIOC(e string) (string, error) {
	orig := e
	e = strings.ToLower(strings.TrimSpace(e))
	if i := strings.Index(e, "://"); i >= 0 {
		e = e[i+3:]
	}
	if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil {
		return a.Unmap().String(), nil
	}
	if ap, err := netip.ParseAddrPort(e); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String(), nil
	}
	if i := strings.IndexByte(e, '/'); i >= 0 {
		e = e[:i]
	}
	e = strings.TrimPrefix(e, "*.")
	host, port, hasPort := strings.Cut(e, ":")
	host = strings.Trim(host, ".-_") // as match trims text tokens
	if host == "" {
		return "", fmt.Errorf("IOC entry %q: want a domain, host or IP address, optionally with :port", orig)
	}
	for i := 0; i < len(host); i++ {
		if !isHostByte(host[i]) {
			return "", fmt.Errorf("IOC entry %q: want a domain, host or IP address, optionally with :port", orig)
		}
	}
	if hasPort {
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return "", fmt.Errorf("IOC entry %q: port %q is not a number", orig, port)
			}
		}
		if port == "" || len(port) > 5 {
			return "", fmt.Errorf("IOC entry %q: bad port", orig)
		}
		return host + ":" + port, nil
	}
	return host, nil
}

// iocSet matches text against domain, host and IP entries, each bare or
// with a port.
type iocSet struct {
	hosts   map[string]struct{} // domains and host names, bare or "host:port"
	ips     map[netip.Addr]struct{}
	ipPorts map[netip.AddrPort]struct{}
}

func newIOCSet(entries []string) *iocSet {
	s := &iocSet{hosts: map[string]struct{}{}, ips: map[netip.Addr]struct{}{}, ipPorts: map[netip.AddrPort]struct{}{}}
	for _, e := range entries {
		n, err := normalizeIOC(e)
		if err != nil {
			continue
		}
		if a, err := netip.ParseAddr(n); err == nil {
			s.ips[a] = struct{}{}
		} else if ap, err := netip.ParseAddrPort(n); err == nil {
			s.ipPorts[ap] = struct{}{}
		} else {
			s.hosts[n] = struct{}{}
		}
	}
	return s
}

// hasIP reports whether a (with port, when port is set) is an entry.
func (s *iocSet) hasIP(a netip.Addr, port string) bool {
	a = a.Unmap()
	if _, ok := s.ips[a]; ok {
		return true
	}
	if port != "" {
		if p, err := strconv.ParseUint(port, 10, 16); err == nil {
			_, ok := s.ipPorts[netip.AddrPortFrom(a, uint16(p))]
			return ok
		}
	}
	return false
}

// match reports whether text holds an entry as a whole host token: the
// token equals the entry or is a subdomain of it ("a.pool.example" matches
// "pool.example"; "evilpool.example" does not), and an IP token equals an
// IP entry. Tokens are runs of letters, digits, '.', '-' and '_'; a token
// followed by ":port" also matches the entry "token:port". Text that is
// one IPv6 address (bracketed or not) is compared as a whole.
func (s *iocSet) match(text string) bool {
	if strings.IndexByte(text, ':') >= 0 {
		t := strings.TrimSpace(text)
		if a, err := netip.ParseAddr(strings.Trim(t, "[]")); err == nil {
			return s.hasIP(a, "")
		}
		if ap, err := netip.ParseAddrPort(t); err == nil && ap.Addr().Is6() {
			return s.hasIP(ap.Addr(), strconv.Itoa(int(ap.Port())))
		}
	}
	start := -1
	for i := 0; i <= len(text); i++ {
		if i < len(text) && isHostByte(text[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			port := ""
			if i < len(text) && text[i] == ':' {
				j := i + 1
				for j < len(text) && text[j] >= '0' && text[j] <= '9' {
					j++
				}
				if j < len(text) && isHostByte(text[j]) {
					j = i + 1 // "host:port" must end at a non-host byte
				}
				port = text[i+1 : j]
			}
			if s.matchToken(text[start:i], port) {
				return true
			}
			start = -1
		}
	}
	return false
}

func (s *iocSet) matchToken(tok, port string) bool {
	tok = strings.Trim(tok, ".-_")
	if tok == "" {
		return false
	}
	has := func(h string) bool {
		if _, ok := s.hosts[h]; ok {
			return true
		}
		if port != "" {
			_, ok := s.hosts[h+":"+port]
			return ok
		}
		return false
	}
	if looksIPv4(tok) {
		if a, err := netip.ParseAddr(tok); err == nil {
			return s.hasIP(a, port)
		}
	}
	tok = strings.ToLower(tok)
	for {
		if has(tok) {
			return true
		}
		i := strings.IndexByte(tok, '.')
		if i < 0 {
			return false
		}
		tok = tok[i+1:]
		if looksIPv4(tok) {
			return false // "9.1.2.3.4" is not a subdomain of the IP 1.2.3.4
		}
	}
}

// looksIPv4 reports whether s is digits and dots only, so a host lookup
// is pointless.
func looksIPv4(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return s != ""
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}
