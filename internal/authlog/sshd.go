package authlog

import (
	"strings"
)

// parseMessage fills ev from the message of a line logged by prog (one of
// the names progName accepts) and reports whether it is an
// authentication record.
func parseMessage(ev *Event, prog, msg string) bool {
	ev.Service = prog
	// syslog's "message repeated N times: [ msg]" stands for N records.
	if rest, ok := strings.CutPrefix(msg, "message repeated "); ok {
		n, _ := leadingInt(rest)
		i := strings.Index(rest, "[ ")
		j := strings.LastIndexByte(rest, ']')
		if n < 1 || i < 0 || j < i {
			return false
		}
		msg = rest[i+2 : j]
		if !parseMessage(ev, prog, msg) {
			return false
		}
		ev.Count *= n
		return true
	}
	if strings.HasPrefix(msg, "pam_") {
		return parsePAM(ev, msg)
	}
	switch prog {
	case "sshd":
		return parseSSHD(ev, msg)
	case "su":
		return parseSu(ev, msg)
	case "sudo":
		return parseSudo(ev, msg)
	case "login":
		return parseLogin(ev, msg)
	}
	return false
}

// parseSSHD reads one sshd message.
func parseSSHD(ev *Event, msg string) bool {
	// Solaris prefixes "[ID 800047 auth.info] ".
	if strings.HasPrefix(msg, "[ID ") {
		if i := strings.IndexByte(msg, ']'); i > 0 {
			msg = strings.TrimLeft(msg[i+1:], " ")
		}
	}
	// A kernel-style stamp some setups put in front: "kernel:[ 970.69]: ".
	if r, ok := strings.CutPrefix(msg, "kernel:"); ok {
		r = strings.TrimLeft(r, " ")
		if i := strings.IndexByte(r, ']'); strings.HasPrefix(r, "[") && i > 0 {
			msg = strings.TrimLeft(strings.TrimPrefix(r[i+1:], ":"), " ")
		}
	}
	for _, p := range [...]string{"error: ", "fatal: "} {
		msg = strings.TrimPrefix(msg, p)
	}
	if len(msg) < 10 {
		return false
	}
	switch msg[0] {
	case 'A':
		if rest, ok := strings.CutPrefix(msg, "Accepted "); ok {
			return authResult(ev, KindSuccess, rest)
		}
	case 'F':
		if rest, ok := strings.CutPrefix(msg, "Failed "); ok {
			return authResult(ev, KindFailure, rest)
		}
	case 'I':
		if rest, ok := strings.CutPrefix(msg, "Invalid user "); ok {
			// "Invalid user U from IP[ port P]"
			user, rest, ok := cutFrom(rest)
			if !ok {
				return false
			}
			ev.Kind, ev.User, ev.InvalidUser = KindInvalidUser, user, true
			return true && setEndpoint(ev, rest)
		}
	case 'U':
		if rest, ok := strings.CutPrefix(msg, "User "); ok {
			// "User U from IP not allowed because …"; the variant without
			// "from" is followed by a "Failed … for invalid user" line
			// that carries the address, so it is not a record of its own.
			i := strings.LastIndex(rest, " not allowed because ")
			if i < 0 {
				return false
			}
			user, host, ok := strings.Cut(rest[:i], " from ")
			if !ok {
				return false
			}
			ev.Kind, ev.User, ev.InvalidUser = KindInvalidUser, user, true
			return setRemote(ev, host)
		}
		if rest, ok := strings.CutPrefix(msg, "Unable to negotiate with "); ok {
			ev.Kind = KindProtocolError
			return setEndpoint(ev, rest)
		}
	case 'm':
		if rest, ok := strings.CutPrefix(msg, "maximum authentication attempts exceeded for "); ok {
			return authResult(ev, KindMaxAttempts, "- for "+rest)
		}
	case 'R':
		if rest, ok := strings.CutPrefix(msg, "Received disconnect from "); ok {
			return receivedDisconnect(ev, rest)
		}
		if rest, ok := strings.CutPrefix(msg, "ROOT LOGIN REFUSED FROM "); ok {
			ev.Kind, ev.User = KindFailure, "root"
			return setEndpoint(ev, rest)
		}
	case 'C':
		if rest, ok := strings.CutPrefix(msg, "Connection closed by "); ok {
			return closedBy(ev, rest)
		}
		if rest, ok := strings.CutPrefix(msg, "Connection reset by "); ok {
			return closedBy(ev, rest)
		}
	case 'D':
		if rest, ok := strings.CutPrefix(msg, "Disconnected from "); ok {
			return closedBy(ev, rest)
		}
		if rest, ok := strings.CutPrefix(msg, "Disconnecting "); ok {
			// "Disconnecting [invalid|authenticating] user U IP port P: why"
			if i := strings.Index(rest, ": "); i > 0 {
				return closedBy(ev, rest[:i]+" [preauth]")
			}
			return false
		}
		if strings.HasPrefix(msg, "Disconnecting: Too many authentication failures") {
			// Follows the failures it sums up (each logged as "Failed …"),
			// and names no address; user only.
			ev.Kind = KindPreauthDisconnect
			if i := strings.Index(msg, " for "); i > 0 {
				ev.User = strings.TrimSuffix(msg[i+5:], " [preauth]")
			}
			return true
		}
		if rest, ok := strings.CutPrefix(msg, "Did not receive identification string from "); ok {
			ev.Kind = KindProtocolError
			return setEndpoint(ev, rest)
		}
	case 'B':
		if strings.HasPrefix(msg, "Bad protocol version identification ") {
			i := strings.LastIndex(msg, " from ")
			if i < 0 {
				return false
			}
			ev.Kind = KindProtocolError
			return setEndpoint(ev, msg[i+6:])
		}
	case 'b', 's':
		// "banner exchange: Connection from IP port P: invalid format",
		// "ssh_dispatch_run_fatal: Connection from IP port P: …"
		if _, rest, ok := strings.Cut(msg, ": Connection from "); ok && (msg[0] == 'b' || strings.HasPrefix(msg, "ssh_dispatch_run_fatal")) {
			ev.Kind = KindProtocolError
			return setEndpoint(ev, rest)
		}
	case 'T':
		if rest, ok := strings.CutPrefix(msg, "Timeout before authentication for "); ok {
			ev.Kind = KindProtocolError
			rest = strings.TrimPrefix(rest, "connection from ")
			return setEndpoint(ev, rest)
		}
	case 'P':
		// FreeBSD/macOS sshd: "error: PAM: Authentication failure for U
		// from HOST[ via IP]", "… for illegal user U from IP".
		if r, ok := strings.CutPrefix(msg, "PAM: "); ok {
			return pamError(ev, r)
		}
		// "PAM 2 more authentication failures; logname= … rhost=IP user=U"
		if rest, ok := strings.CutPrefix(msg, "PAM "); ok {
			if n, ok := leadingInt(rest); ok && n > 0 && strings.Contains(rest, " more authentication failure") {
				if !pamFields(ev, rest) {
					return false
				}
				ev.Kind, ev.Count, ev.Method = KindPAMFailure, n, "pam"
				return true
			}
		}
	case 'r':
		// tcp_wrappers: "refused connect from NAME (IP)"
		if rest, ok := strings.CutPrefix(msg, "refused connect from "); ok {
			ev.Kind = KindRefused
			if i := strings.LastIndexByte(rest, '('); i >= 0 && strings.HasSuffix(rest, ")") {
				return setRemote(ev, rest[i+1:len(rest)-1])
			}
			tok, _, _ := strings.Cut(rest, " ")
			return setRemote(ev, tok)
		}
	}
	return false
}

// authResult reads "METHOD for [invalid user ]U from IP port P ssh2[: …]"
// after "Accepted "/"Failed " (METHOD "-" for max attempts).
func authResult(ev *Event, kind Kind, s string) bool {
	method, rest, ok := strings.Cut(s, " for ")
	if !ok || method == "" || strings.IndexByte(method, ' ') >= 0 {
		return false
	}
	if method != "-" {
		ev.Method = method
	}
	if r, ok := strings.CutPrefix(rest, "invalid user "); ok {
		ev.InvalidUser, rest = true, r
	} else if r, ok := strings.CutPrefix(rest, "illegal user "); ok {
		ev.InvalidUser, rest = true, r
	}
	user, ep, ok := cutFrom(rest)
	if !ok {
		return false
	}
	if user == "<invalid username>" {
		user, ev.InvalidUser = "", true
	}
	ev.Kind, ev.User = kind, user
	return setEndpoint(ev, ep)
}

// cutFrom splits "U from ENDPOINT" at the " from " that is followed by a
// well-formed endpoint: an address or host name, optionally " port N",
// " on ADDR port N" and " sshN", then the end, ": …" or " [preauth]". A
// user name that itself contains " from …" (an injection attempt) is kept
// whole. A name ending the string ("… from") is left out.
func cutFrom(s string) (user, endpoint string, ok bool) {
	off := 0
	for {
		i := strings.Index(s[off:], " from ")
		if i < 0 {
			// "Invalid user  from IP": empty name, the separator starts s.
			if off == 0 && strings.HasPrefix(s, "from ") && endpointOK(s[5:]) {
				return "", s[5:], true
			}
			return "", "", false
		}
		i += off
		if endpointOK(s[i+6:]) {
			return s[:i], s[i+6:], true
		}
		off = i + 1
	}
}

// endpointOK reports whether s is "HOST[ port N][ on A[ port N]][ sshN]"
// followed by the end, ':' or " [preauth]".
func endpointOK(s string) bool {
	tok, rest, _ := strings.Cut(s, " ")
	if strings.HasSuffix(tok, ":") {
		if _, _, ok := parseRemote(strings.TrimSuffix(tok, ":")); ok {
			return true
		}
	}
	if _, _, ok := parseRemote(tok); !ok {
		return false
	}
	rest = skipPort(rest)
	if r, ok := strings.CutPrefix(rest, "on "); ok {
		_, r, _ = strings.Cut(r, " ")
		rest = skipPort(r)
	}
	if strings.HasPrefix(rest, "ssh") {
		i := 3
		for i < len(rest) && isDigit(rest[i]) {
			i++
		}
		rest = rest[i:]
		if strings.HasPrefix(rest, ":") {
			return true
		}
		rest = strings.TrimPrefix(rest, " ")
	}
	return rest == "" || rest == "[preauth]" || rest[0] == ':'
}

// skipPort drops a leading "port N" (and the space after it).
func skipPort(s string) string {
	r, ok := strings.CutPrefix(s, "port ")
	if !ok {
		return s
	}
	i := 0
	for i < len(r) && isDigit(r[i]) {
		i++
	}
	if i == 0 {
		return s
	}
	return strings.TrimPrefix(r[i:], " ")
}

// setEndpoint reads "HOST[:][ port P[:…]]…" into ev.
func setEndpoint(ev *Event, s string) bool {
	tok, rest, _ := strings.Cut(s, " ")
	if !setRemote(ev, tok) {
		t := strings.TrimSuffix(tok, ":")
		if t == tok || !setRemote(ev, t) {
			return false
		}
	}
	if r, ok := strings.CutPrefix(rest, "port "); ok {
		ev.Port = portOf(r)
	}
	return true
}

// receivedDisconnect reads "IP[ port P]:[ ]N: reason[ [preauth]]". Only
// disconnects before authentication are records; a session's normal end
// is logged again as "Disconnected from user …".
func receivedDisconnect(ev *Event, s string) bool {
	preauth := strings.HasSuffix(s, "[preauth]")
	if !preauth && !containsFold(s, "auth fail") && !containsFold(s, "authentication methods") {
		return false
	}
	ev.Kind = KindPreauthDisconnect
	return setEndpoint(ev, s)
}

// closedBy reads what follows "Connection closed by", "Connection reset
// by", "Disconnected from" and "Disconnecting": "[invalid |authenticating
// ]user U IP port P [preauth]", "user U IP port P" (a session's end) or
// "IP[ port P] [preauth]". Closes without "[preauth]" or a user are not
// records: sshd also logs them for ordinary sessions.
func closedBy(ev *Event, s string) bool {
	preauth := false
	if r, ok := strings.CutSuffix(s, " [preauth]"); ok {
		s, preauth = r, true
	}
	qual := ""
	for _, q := range [...]string{"invalid user ", "authenticating user ", "user "} {
		if r, ok := strings.CutPrefix(s, q); ok {
			qual, s = q, r
			break
		}
	}
	if qual == "" {
		if !preauth {
			return false
		}
		ev.Kind = KindPreauthDisconnect
		return setEndpoint(ev, s)
	}
	// The address is the last word before "port P" (or the last word):
	// the user name may contain spaces.
	s = strings.TrimRight(s, " ")
	if i := strings.LastIndex(s, " port "); i >= 0 && atoiFixed(s[i+6:]) >= 0 {
		ev.Port = portOf(s[i+6:])
		s = s[:i]
	}
	i := strings.LastIndexByte(s, ' ')
	if i < 0 {
		return false
	}
	if !setRemote(ev, s[i+1:]) {
		return false
	}
	ev.User = s[:i]
	switch {
	case qual == "invalid user ":
		ev.InvalidUser = true
		ev.Kind = KindPreauthDisconnect
	case qual == "user " && !preauth:
		ev.Kind = KindSessionClose
	default:
		ev.Kind = KindPreauthDisconnect
	}
	return true
}

// pamError reads sshd's own PAM error on BSD and macOS:
// "Authentication failure for U from HOST[ via IP]", "authentication error
// for …", "User not known to the underlying authentication module for
// illegal user U from IP".
func pamError(ev *Event, s string) bool {
	i := strings.Index(s, " for ")
	if i < 0 {
		return false
	}
	what := strings.ToLower(s[:i])
	if what != "authentication failure" && what != "authentication error" && !strings.HasPrefix(what, "user not known") {
		return false
	}
	rest := strings.TrimRight(s[i+5:], " ")
	if r, ok := strings.CutPrefix(rest, "illegal user "); ok {
		rest, ev.InvalidUser = r, true
	}
	if strings.HasPrefix(what, "user not known") {
		ev.InvalidUser = true
	}
	j := strings.LastIndex(rest, " from ")
	if j < 0 {
		return false
	}
	host := rest[j+6:]
	if k := strings.Index(host, " via "); k >= 0 {
		host = host[:k]
	}
	ev.Kind, ev.Method, ev.User = KindFailure, "pam", rest[:j]
	return setRemote(ev, host)
}

// parsePAM reads pam_*(service:auth|session) records for any service:
// "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0
// tty=ssh ruser= rhost=IP  user=U", "pam_unix(su:session): session opened
// for user root(uid=0) by alice(uid=1000)", "… session closed for user U".
func parsePAM(ev *Event, msg string) bool {
	open := strings.IndexByte(msg, '(')
	end := strings.Index(msg, "): ")
	if open < 0 || end < open {
		return false
	}
	svc, typ, ok := strings.Cut(msg[open+1:end], ":")
	if !ok {
		return false
	}
	rest := msg[end+3:]
	if svc != "" {
		ev.Service = serviceName(svc)
	}
	switch typ {
	case "auth":
		r, ok := strings.CutPrefix(rest, "authentication failure;")
		if !ok {
			return false
		}
		if !pamFields(ev, r) {
			return false
		}
		if ev.Service == "sshd" {
			// sshd sets no PAM_RUSER of its own: a ruser there is the
			// name the client asked for.
			if ev.User == "" {
				ev.User = ev.ByUser
			}
			ev.ByUser = ""
		}
		ev.Kind, ev.Method = KindPAMFailure, "pam"
		return true
	case "session":
		if r, ok := strings.CutPrefix(rest, "session opened for user "); ok {
			user, by, _ := strings.Cut(r, " by ")
			ev.Kind, ev.User = KindSessionOpen, trimUID(user)
			if by = trimUID(by); by != "" {
				ev.ByUser = by
			}
			return ev.User != ""
		}
		if r, ok := strings.CutPrefix(rest, "session closed for user "); ok {
			ev.Kind, ev.User = KindSessionClose, trimUID(r)
			return ev.User != ""
		}
	}
	return false
}

// serviceName maps a PAM service name to ours ("su-l" is su).
func serviceName(svc string) string {
	switch svc {
	case "su-l":
		return "su"
	case "sudo-i":
		return "sudo"
	case "sshd", "su", "sudo", "login":
		return svc
	}
	return svc
}

// trimUID turns "root(uid=0)" into "root" and "(uid=0)" into "".
func trimUID(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	return s
}

// pamFields reads PAM's "key=value" list: logname, ruser, rhost, tty,
// user. rhost is the remote address (or host name); user the target
// account; ruser (or logname) the account that asked, for su and sudo.
func pamFields(ev *Event, s string) bool {
	for s != "" {
		var f string
		s = strings.TrimLeft(s, " ;")
		f, s, _ = strings.Cut(s, " ")
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			continue
		}
		switch k {
		case "rhost":
			if !setRemote(ev, v) {
				ev.RemoteHost = v
			}
		case "user":
			ev.User = v
		case "ruser":
			ev.ByUser = v
		case "logname":
			if ev.ByUser == "" {
				ev.ByUser = v
			}
		case "tty":
			if v != "ssh" {
				ev.TTY = v
			}
		}
	}
	return true
}

// parseSu reads su's own records: "FAILED SU (to root) alice on pts/0",
// "Successful su for root by alice", "(to root) alice on pts/0" (util-linux
// success), "+ pts/0 alice:root" and "- pts/0 alice:root" (shadow).
func parseSu(ev *Event, msg string) bool {
	if rest, ok := strings.CutPrefix(msg, "FAILED SU "); ok {
		ev.Kind = KindFailure
		return suTo(ev, rest)
	}
	if rest, ok := strings.CutPrefix(msg, "Successful su for "); ok {
		user, by, ok := strings.Cut(rest, " by ")
		if !ok {
			return false
		}
		ev.Kind, ev.User, ev.ByUser = KindSuccess, user, by
		return true
	}
	if strings.HasPrefix(msg, "(to ") {
		ev.Kind = KindSuccess
		return suTo(ev, msg)
	}
	if len(msg) > 2 && (msg[0] == '+' || msg[0] == '-') && msg[1] == ' ' {
		f := strings.Fields(msg[2:])
		if len(f) != 2 {
			return false
		}
		by, user, ok := strings.Cut(f[1], ":")
		if !ok {
			return false
		}
		ev.Kind, ev.TTY, ev.ByUser, ev.User = KindSuccess, f[0], by, user
		if msg[0] == '-' {
			ev.Kind = KindFailure
		}
		return true
	}
	return false
}

// suTo reads "(to root) alice on pts/0".
func suTo(ev *Event, s string) bool {
	r, ok := strings.CutPrefix(s, "(to ")
	if !ok {
		return false
	}
	user, r, ok := strings.Cut(r, ") ")
	if !ok {
		return false
	}
	by, tty, _ := strings.Cut(r, " on ")
	ev.User, ev.ByUser, ev.TTY = user, by, tty
	return user != ""
}

// parseSudo reads "alice : TTY=pts/0 ; PWD=/home ; USER=root ;
// COMMAND=/bin/ls" (success) and the failures "alice : 3 incorrect
// password attempts ; TTY=…", "alice : user NOT in sudoers ; …",
// "alice : command not allowed ; …".
func parseSudo(ev *Event, msg string) bool {
	msg = strings.TrimLeft(msg, " ")
	by, rest, ok := strings.Cut(msg, " : ")
	if !ok || by == "" || strings.IndexByte(by, ' ') >= 0 {
		return false
	}
	ev.ByUser = by
	first, _, _ := strings.Cut(rest, " ; ")
	switch {
	case strings.HasPrefix(first, "TTY="):
		ev.Kind = KindSuccess
	case strings.Contains(first, "incorrect password attempt"):
		ev.Kind = KindFailure
		if n, ok := leadingInt(first); ok && n > 0 {
			ev.Count = n
		}
	case strings.Contains(first, "NOT in sudoers"), strings.Contains(first, "command not allowed"),
		strings.Contains(first, "a password is required"):
		ev.Kind = KindFailure
	default:
		return false
	}
	for rest != "" {
		var f string
		f, rest, _ = strings.Cut(rest, " ; ")
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "TTY":
			if v != "unknown" {
				ev.TTY = v
			}
		case "USER":
			ev.User = v
		}
		if k == "COMMAND" {
			break
		}
	}
	if ev.User == "" {
		ev.User = "root"
	}
	return true
}

// parseLogin reads login(1): "FAILED LOGIN (1) on '/dev/tty1' FROM 'host'
// FOR 'root', Authentication failure", "FAILED LOGIN 1 FROM tty1 FOR root,
// Authentication failure", "ROOT LOGIN ON tty1", "ROOT LOGIN  on
// '/dev/tty1'", "LOGIN ON tty1 BY alice".
func parseLogin(ev *Event, msg string) bool {
	switch {
	case strings.HasPrefix(msg, "FAILED LOGIN "):
		ev.Kind = KindFailure
		rest := msg[len("FAILED LOGIN "):]
		if i := strings.Index(rest, " on "); i >= 0 {
			tty, _, _ := strings.Cut(rest[i+4:], " ")
			ev.TTY = strings.TrimPrefix(unquote(tty), "/dev/")
		}
		if i := strings.Index(rest, " FROM "); i >= 0 {
			from, _, _ := strings.Cut(rest[i+6:], " ")
			from = unquote(from)
			if ev.TTY == "" && !strings.Contains(rest, "'") {
				ev.TTY = from // shadow's older "FROM tty1"
			} else if from != "" {
				if !setRemote(ev, from) {
					ev.RemoteHost = from
				}
			}
		}
		if i := strings.Index(rest, " FOR "); i >= 0 {
			user := rest[i+5:]
			if j := strings.Index(user, ", "); j >= 0 {
				user = user[:j]
			}
			ev.User = unquote(user)
		}
		return true
	case strings.HasPrefix(msg, "ROOT LOGIN "):
		rest := strings.TrimLeft(msg[len("ROOT LOGIN "):], " ")
		if strings.HasPrefix(rest, "REFUSED") {
			ev.Kind = KindFailure
		} else {
			ev.Kind = KindSuccess
		}
		ev.User = "root"
		if r, ok := cutFold(rest, "on "); ok {
			tty, _, _ := strings.Cut(r, " ")
			ev.TTY = strings.TrimPrefix(unquote(tty), "/dev/")
		}
		if i := strings.Index(rest, " FROM "); i >= 0 {
			from, _, _ := strings.Cut(rest[i+6:], " ")
			if from = unquote(from); from != "" && !setRemote(ev, from) {
				ev.RemoteHost = from
			}
		}
		return true
	case strings.HasPrefix(msg, "LOGIN ON "):
		rest := msg[len("LOGIN ON "):]
		tty, r, _ := strings.Cut(rest, " ")
		user, ok := strings.CutPrefix(r, "BY ")
		if !ok {
			return false
		}
		user, _, _ = strings.Cut(user, " ")
		ev.Kind, ev.TTY, ev.User = KindSuccess, tty, user
		return true
	}
	return false
}

// cutFold finds "on "/"ON " at the start of s.
func cutFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func unquote(s string) string {
	s = strings.TrimRight(s, ",")
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return s[1 : len(s)-1]
	}
	return s
}

// containsFold is a case-insensitive strings.Contains for an ASCII,
// lower-case sub, without allocating.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}
