package authlog

import (
	"encoding/hex"
	"path"
	"strings"
	"time"
)

// parseAudit reads a Linux audit record about a login:
//
//	type=USER_AUTH msg=audit(1373330716.415:4063): pid=1 uid=0 … msg='op=password acct="dan" exe="/usr/sbin/sshd" hostname=? addr=192.0.2.1 terminal=ssh res=failed'
//
// USER_AUTH and USER_ERR with res=failed are failed attempts; USER_LOGIN
// with res=success a login. USER_LOGIN with res=failed follows the failed
// USER_AUTH records of the same connection, so it becomes
// KindPreauthDisconnect (the connection ended without a login) and is not
// counted twice. Other record types, and records of other programs than
// sshd, su, sudo and login, are not authentication records.
func parseAudit(s, raw string) (Event, bool) {
	var ev Event
	if strings.HasPrefix(s, "node=") {
		_, s, _ = strings.Cut(s, " ")
	}
	rest, ok := strings.CutPrefix(s, "type=")
	if !ok {
		return ev, false
	}
	typ, rest, ok := strings.Cut(rest, " ")
	if !ok || (typ != "USER_AUTH" && typ != "USER_LOGIN" && typ != "USER_ERR") {
		return ev, false
	}
	rest, ok = strings.CutPrefix(rest, "msg=audit(")
	if !ok {
		return ev, false
	}
	stamp, rest, ok := strings.Cut(rest, "):")
	if !ok {
		return ev, false
	}
	stamp, _, _ = strings.Cut(stamp, ":")
	secs, frac, _ := strings.Cut(stamp, ".")
	sec := atoiFixed(secs)
	if sec < 0 || len(secs) > 12 || len(secs) == 0 {
		return ev, false
	}
	nsec, _ := parseFraction("." + frac)
	ev.Time = time.Unix(int64(sec), int64(nsec)).UTC()
	ev.Count, ev.Raw = 1, raw
	res := ""
	for rest != "" {
		var f string
		rest = strings.TrimLeft(rest, " '")
		f, rest = cutField(rest)
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		switch k {
		case "pid":
			ev.PID = atoi(v)
		case "msg":
			rest = strings.TrimPrefix(v, "'") + " " + rest
		case "op":
			ev.Method = strings.Trim(v, "\"")
		case "acct":
			ev.User = auditString(v)
		case "exe":
			ev.Service = serviceName(path.Base(auditString(v)))
		case "addr":
			if v != "?" {
				setRemote(&ev, v)
			}
		case "hostname":
			if v != "?" && !ev.SourceIP.IsValid() && ev.RemoteHost == "" {
				if _, h, ok := parseRemote(v); ok && h != "" {
					ev.RemoteHost = h
				}
			}
		case "terminal":
			if v != "ssh" && v != "?" {
				ev.TTY = v
			}
		case "res":
			res = strings.TrimRight(v, "'")
		}
	}
	// Only the programs read from syslog too (sshd, su, sudo, login).
	svc, _, known := progName(ev.Service)
	if !known {
		return Event{}, false
	}
	ev.Service = svc
	switch {
	case res == "failed" && typ != "USER_LOGIN":
		ev.Kind = KindFailure
	case res == "failed":
		ev.Kind = KindPreauthDisconnect
	case res == "success" && typ == "USER_LOGIN":
		ev.Kind = KindSuccess
	default:
		return Event{}, false
	}
	if ev.User == "?" || ev.User == "(unknown user)" || ev.User == "(invalid user)" {
		ev.User, ev.InvalidUser = "", true
	}
	return ev, true
}

// cutField cuts one space-separated key=value field; a quoted value may
// hold spaces.
func cutField(s string) (string, string) {
	eq := strings.IndexByte(s, '=')
	sp := strings.IndexByte(s, ' ')
	if eq >= 0 && (sp < 0 || eq < sp) && eq+1 < len(s) && (s[eq+1] == '"' || s[eq+1] == '\'') {
		q := s[eq+1]
		if j := strings.IndexByte(s[eq+2:], q); j >= 0 {
			end := eq + 2 + j + 1
			if q == '\'' {
				// msg='…': hand back the inside to be split again.
				return s[:end-1], s[end:]
			}
			return s[:end], s[end:]
		}
	}
	if sp < 0 {
		return s, ""
	}
	return s[:sp], s[sp+1:]
}

// auditString decodes an audit value: "quoted" text, or hex when the
// kernel encoded it (it does when the value holds spaces or quotes).
func auditString(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	if len(v)%2 == 0 && len(v) > 0 {
		if b, err := hex.DecodeString(v); err == nil {
			return strings.ToValidUTF8(string(b), "\uFFFD")
		}
	}
	return v
}
