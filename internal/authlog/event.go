// Package authlog reads authentication records — sshd, su, sudo and login
// lines from syslog files and the systemd journal, and wtmp/btmp — and turns
// each into an Event that the login analyzers judge.
package authlog

import (
	"net/netip"
	"time"
)

// Kind is what an authentication record says happened.
type Kind string

const (
	// KindFailure is a failed authentication: a wrong password or key, a
	// PAM failure, a failed su or sudo.
	KindFailure Kind = "failure"
	// KindInvalidUser is an attempt on an account that does not exist.
	// Analyzers count it as a failure too.
	KindInvalidUser Kind = "invalid_user"
	// KindSuccess is an accepted login or a successful su/sudo.
	KindSuccess Kind = "success"
	// KindMaxAttempts is sshd giving up on a connection after too many
	// failed attempts ("maximum authentication attempts exceeded").
	KindMaxAttempts Kind = "max_attempts"
	// KindPreauthDisconnect is a connection closed before authentication
	// finished (scanners and brute-force tools leave many).
	KindPreauthDisconnect Kind = "preauth_disconnect"
	// KindSessionOpen and KindSessionClose are PAM session records.
	KindSessionOpen  Kind = "session_open"
	KindSessionClose Kind = "session_close"
	// KindPAMFailure is a PAM module's own report of a failed
	// authentication ("pam_unix(sshd:auth): authentication failure",
	// "PAM 2 more authentication failures"). The service logs the same
	// attempt itself ("Failed password …", "FAILED SU", "incorrect password
	// attempts"), so IsFailure leaves it out to avoid counting twice.
	KindPAMFailure Kind = "pam_failure"
	// KindProtocolError is a connection that never spoke SSH properly: no
	// identification string, a bad banner, no common cipher or key
	// exchange, a timeout before authentication. Port scanners leave these.
	KindProtocolError Kind = "protocol_error"
	// KindRefused is a connection refused by access rules before any
	// authentication (tcp_wrappers "refused connect from").
	KindRefused Kind = "refused"
)

// IsFailure reports whether k counts as a failed attempt.
func (k Kind) IsFailure() bool {
	return k == KindFailure || k == KindInvalidUser || k == KindMaxAttempts
}

// Event is one authentication record.
type Event struct {
	Time    time.Time // when it happened; UTC unless the source gave a zone
	Host    string    // the syslog host field, or the journal's _HOSTNAME
	Service string    // "sshd", "su", "sudo", "login", "wtmp", "btmp"
	PID     int
	Kind    Kind
	// Method is how the user authenticated: "password", "publickey",
	// "keyboard-interactive", "pam", "hostbased", "gssapi-with-mic".
	Method string
	User   string // the target account
	// ByUser is the account that ran su or sudo.
	ByUser   string
	SourceIP netip.Addr // invalid when the record has no remote address
	Port     int
	TTY      string
	// Count is how many attempts the record stands for (PAM's "N more
	// authentication failures"; 1 otherwise).
	Count int
	// Source says where the record was read: a file path, "journal", or
	// the wtmp/btmp path.
	Source string
	// Raw is the original line (or journal MESSAGE).
	Raw string
	// RemoteHost is the remote end as the record wrote it when that is a
	// host name rather than an address (rhost=, "from example.com",
	// ut_host); SourceIP is then invalid.
	RemoteHost string
	// InvalidUser is set when the record says the account does not exist
	// or is not allowed to log in ("for invalid user", "not allowed
	// because").
	InvalidUser bool
	// Cursor is the journal cursor of the entry (journal events only).
	Cursor string
}
