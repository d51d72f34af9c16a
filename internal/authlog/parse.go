package authlog

import (
	"net/netip"
	"strings"
	"time"
)

// ParseLine parses one log line: a syslog line with an RFC 3164 stamp
// ("Jan  2 03:04:05 host sshd[123]: …"), an ISO 8601 stamp (rsyslog's
// high-precision format, journalctl -o short-iso), an RFC 5424 header, no
// stamp at all (journalctl -o short without time: "host sshd[1]: …"), with
// or without the host field; or a Linux audit record
// ("type=USER_AUTH msg=audit(…): … res=failed"). ok is false for lines that
// are not authentication records.
//
// A stamp without a year or zone is read in ref's location and given the
// latest year that does not put it more than a day after ref. A line
// without a stamp gets the zero Time.
func ParseLine(line string, ref time.Time) (Event, bool) {
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 8 {
		return Event{}, false
	}
	if line[0] == 't' || line[0] == 'n' {
		if ev, ok := parseAudit(line, line); ok {
			return ev, true
		}
	}
	h, ok := parseHeader(line, ref)
	if !ok {
		return Event{}, false
	}
	ev := Event{Time: h.time, Host: h.host, PID: h.pid, Count: 1, Raw: line}
	if !parseMessage(&ev, h.prog, h.msg) {
		return Event{}, false
	}
	return ev, true
}

// header is the syslog envelope of a line.
type header struct {
	time time.Time
	host string
	prog string
	pid  int
	msg  string
}

// parseHeader splits a syslog line into stamp, host, program and message.
// It returns false as soon as the program is not one we read, before any
// message parsing: that is the cheap prefilter.
func parseHeader(s string, ref time.Time) (header, bool) {
	var h header
	if s[0] == '<' { // <PRI>
		i := 1
		for i < len(s) && i < 5 && isDigit(s[i]) {
			i++
		}
		if i == 1 || i >= len(s) || s[i] != '>' {
			return h, false
		}
		s = s[i+1:]
		if strings.HasPrefix(s, "1 ") {
			return parse5424(s[2:], ref)
		}
	}
	if len(s) == 0 {
		return h, false
	}
	switch c := s[0]; {
	case c >= 'A' && c <= 'Z':
		if t, n, ok := parseStamp3164(s, ref); ok {
			h.time, s = t, s[n:]
		}
	case isDigit(c):
		t, n, ok := parseStampISO(s, ref.Location())
		if !ok {
			return h, false
		}
		h.time, s = t, s[n:]
	}
	s = strings.TrimLeft(s, " ")
	// host, unless the first token is already the program.
	tok, rest, _ := strings.Cut(s, " ")
	if !isProgToken(tok) {
		h.host = tok
		s = strings.TrimLeft(rest, " ")
		tok, rest, _ = strings.Cut(s, " ")
	}
	prog, pid, ok := progName(tok)
	if !ok {
		return h, false
	}
	h.prog, h.pid, h.msg = prog, pid, rest
	return h, true
}

// isProgToken reports whether tok looks like "name[pid]:", "name:",
// "[name]:" or "[name]" rather than a host name.
func isProgToken(tok string) bool {
	if tok == "" {
		return false
	}
	return tok[len(tok)-1] == ':' || tok[0] == '[' || strings.IndexByte(tok, '[') > 0
}

// progName maps a program token to the service we parse for it. ok is
// false for every other program.
func progName(tok string) (string, int, bool) {
	tok = strings.TrimSuffix(tok, ":")
	pid := 0
	if tok != "" && tok[0] == '[' && tok[len(tok)-1] == ']' { // "[sshd]"
		tok = tok[1 : len(tok)-1]
	} else if i := strings.IndexByte(tok, '['); i > 0 && tok[len(tok)-1] == ']' {
		pid = atoi(tok[i+1 : len(tok)-1])
		tok = tok[:i]
	}
	switch tok {
	case "sshd", "sshd-session", "sshd-auth":
		return "sshd", pid, true
	case "su", "sudo", "login":
		return tok, pid, true
	}
	return "", 0, false
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseStamp3164 reads "Mmm dd hh:mm:ss" (day space- or zero-padded or
// not padded at all, optional fraction) and returns the bytes consumed.
func parseStamp3164(s string, ref time.Time) (time.Time, int, bool) {
	if len(s) < 14 || s[3] != ' ' {
		return time.Time{}, 0, false
	}
	mon := 0
	for i, m := range months {
		if s[:3] == m {
			mon = i + 1
			break
		}
	}
	if mon == 0 {
		return time.Time{}, 0, false
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	day := 0
	for j := 0; j < 2 && i < len(s) && isDigit(s[i]); j++ {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if day < 1 || day > 31 || i >= len(s) || s[i] != ' ' {
		return time.Time{}, 0, false
	}
	i++
	hh, mm, ss, ok := parseClock(s[i:])
	if !ok {
		return time.Time{}, 0, false
	}
	i += 8
	nsec, n := parseFraction(s[i:])
	i += n
	loc := ref.Location()
	limit := ref.Add(24 * time.Hour)
	// The latest year that does not put the line more than a day after
	// ref; Feb 29 moves back to a leap year.
	for y := ref.Year() + 1; y > ref.Year()-8; y-- {
		t := time.Date(y, time.Month(mon), day, hh, mm, ss, nsec, loc)
		if t.Day() != day {
			continue
		}
		if !t.After(limit) {
			return t, i, true
		}
	}
	return time.Time{}, 0, false
}

// parseClock reads "hh:mm:ss".
func parseClock(s string) (hh, mm, ss int, ok bool) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, false
	}
	d := func(p int) int {
		if !isDigit(s[p]) || !isDigit(s[p+1]) {
			return -1
		}
		return int(s[p]-'0')*10 + int(s[p+1]-'0')
	}
	hh, mm, ss = d(0), d(3), d(6)
	if hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 {
		return 0, 0, 0, false
	}
	if ss == 60 {
		ss = 59 // leap second
	}
	return hh, mm, ss, true
}

// parseFraction reads ".ddd…" and returns nanoseconds and bytes consumed.
func parseFraction(s string) (int, int) {
	if len(s) < 2 || (s[0] != '.' && s[0] != ',') || !isDigit(s[1]) {
		return 0, 0
	}
	ns, i := 0, 1
	for ; i < len(s) && isDigit(s[i]); i++ {
		if i <= 9 {
			ns = ns*10 + int(s[i]-'0')
		}
	}
	for d := i - 1; d < 9; d++ {
		ns *= 10
	}
	return ns, i
}

// parseStampISO reads "YYYY-MM-DDThh:mm:ss[.frac][Z|±hh:mm|±hhmm]" ('T' or
// a space between date and time). Without a zone the time is in loc.
func parseStampISO(s string, loc *time.Location) (time.Time, int, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') {
		return time.Time{}, 0, false
	}
	y, mo, d := atoiFixed(s[0:4]), atoiFixed(s[5:7]), atoiFixed(s[8:10])
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return time.Time{}, 0, false
	}
	hh, mm, ss, ok := parseClock(s[11:])
	if !ok {
		return time.Time{}, 0, false
	}
	i := 19
	nsec, n := parseFraction(s[i:])
	i += n
	if i < len(s) {
		switch s[i] {
		case 'Z':
			loc = time.UTC
			i++
		case '+', '-':
			neg := s[i] == '-'
			r := s[i+1:]
			var oh, om int
			switch {
			case len(r) >= 5 && r[2] == ':':
				oh, om = atoiFixed(r[0:2]), atoiFixed(r[3:5])
				i += 6
			case len(r) >= 4:
				oh, om = atoiFixed(r[0:2]), atoiFixed(r[2:4])
				i += 5
			default:
				return time.Time{}, 0, false
			}
			if oh < 0 || om < 0 || oh > 23 || om > 59 {
				return time.Time{}, 0, false
			}
			off := oh*3600 + om*60
			if neg {
				off = -off
			}
			if off == 0 {
				loc = time.UTC
			} else {
				loc = time.FixedZone("", off)
			}
		}
	}
	if i < len(s) && s[i] != ' ' {
		return time.Time{}, 0, false
	}
	t := time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, loc)
	if t.Day() != d {
		return time.Time{}, 0, false
	}
	return t, i, true
}

// parse5424 reads the rest of an RFC 5424 header after "<PRI>1 ":
// TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG.
func parse5424(s string, ref time.Time) (header, bool) {
	var h header
	f := make([]string, 0, 5)
	for len(f) < 5 {
		tok, rest, ok := strings.Cut(s, " ")
		if !ok {
			return h, false
		}
		f = append(f, tok)
		s = rest
	}
	prog, _, ok := progName(f[2])
	if !ok {
		return h, false
	}
	if f[0] != "-" {
		t, n, ok := parseStampISO(f[0], ref.Location())
		if !ok || n != len(f[0]) {
			return h, false
		}
		h.time = t
	}
	if f[1] != "-" {
		h.host = f[1]
	}
	h.prog, h.pid = prog, atoi(f[3])
	// Structured data: "-" or one or more [id k="v" …] elements, where
	// values may hold escaped quotes and brackets.
	if strings.HasPrefix(s, "- ") || s == "-" {
		s = strings.TrimPrefix(s[1:], " ")
	} else {
		for len(s) > 0 && s[0] == '[' {
			i, inq := 1, false
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\\' {
					i++
					continue
				}
				if c == '"' {
					inq = !inq
				} else if c == ']' && !inq {
					break
				}
			}
			if i >= len(s) {
				return h, false
			}
			s = s[i+1:]
		}
		s = strings.TrimPrefix(s, " ")
	}
	h.msg = strings.TrimPrefix(s, "\ufeff") // BOM
	return h, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// atoi parses a small non-negative decimal; 0 when s is not one.
func atoi(s string) int {
	if s == "" || len(s) > 9 {
		return 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// atoiFixed parses all of s as digits; -1 when s is not all digits.
func atoiFixed(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// leadingInt parses the digits at the start of s.
func leadingInt(s string) (int, bool) {
	n, i := 0, 0
	for ; i < len(s) && i < 9 && isDigit(s[i]); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, i > 0
}

// parseRemote reads an address or host name token. IPv4-mapped IPv6
// addresses become IPv4. ok is false for tokens that are neither.
func parseRemote(tok string) (netip.Addr, string, bool) {
	tok = strings.TrimRight(tok, ",;")
	if tok == "" {
		return netip.Addr{}, "", false
	}
	if tok[0] == '[' && tok[len(tok)-1] == ']' {
		tok = tok[1 : len(tok)-1]
	}
	if a, err := netip.ParseAddr(tok); err == nil {
		return a.Unmap(), "", true
	}
	if isHostName(tok) {
		return netip.Addr{}, tok, true
	}
	return netip.Addr{}, "", false
}

// isHostName reports whether s is a plausible DNS name (or a malformed
// dotted quad such as "192.030.0.6", which is kept as text).
func isHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 || s[0] == '-' || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// setRemote stores a remote token in ev.
func setRemote(ev *Event, tok string) bool {
	a, host, ok := parseRemote(tok)
	if !ok {
		return false
	}
	ev.SourceIP, ev.RemoteHost = a, host
	return true
}

func portOf(s string) int {
	n, _ := leadingInt(s)
	if n > 65535 {
		return 0
	}
	return n
}
