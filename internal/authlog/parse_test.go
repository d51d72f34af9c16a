package authlog

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var ref = time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func at(mon time.Month, d, h, m, s int) time.Time {
	return time.Date(2026, mon, d, h, m, s, 0, time.UTC)
}

// eventDiff compares events; times must be the same instant with the same
// offset.
func eventDiff(want, got any) string {
	return cmp.Diff(want, got,
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) && a.Format(time.RFC3339) == b.Format(time.RFC3339) }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }))
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Event // Raw and Count (1) are filled in
		no   bool  // not an authentication record
	}{
		{
			name: "sshd_failed_password",
			line: "Nov 27 03:04:05 web1 sshd[123]: Failed password for root from 203.0.113.5 port 52144 ssh2",
			want: Event{Time: at(11, 27, 3, 4, 5), Host: "web1", Service: "sshd", PID: 123, Kind: KindFailure, Method: "password", User: "root", SourceIP: ip("203.0.113.5"), Port: 52144},
		},
		{
			name: "sshd_failed_invalid_user_ipv6",
			line: "Nov  2 03:04:05 web1 sshd[9]: Failed password for invalid user oracle from 2001:db8::7 port 40000 ssh2",
			want: Event{Time: at(11, 2, 3, 4, 5), Host: "web1", Service: "sshd", PID: 9, Kind: KindFailure, Method: "password", User: "oracle", InvalidUser: true, SourceIP: ip("2001:db8::7"), Port: 40000},
		},
		{
			name: "sshd_accepted_publickey_mapped_v4",
			line: "Nov 27 10:00:00 web1 sshd[77]: Accepted publickey for deploy from ::ffff:198.51.100.20 port 51000 ssh2: ED25519 SHA256:abc",
			want: Event{Time: at(11, 27, 10, 0, 0), Host: "web1", Service: "sshd", PID: 77, Kind: KindSuccess, Method: "publickey", User: "deploy", SourceIP: ip("198.51.100.20"), Port: 51000},
		},
		{
			name: "rsyslog_iso_stamp",
			line: "2026-11-27T21:05:01.123456+00:00 db2 sshd[1]: Failed keyboard-interactive/pam for admin from 192.0.2.9 port 2222 ssh2",
			want: Event{Time: time.Date(2026, 11, 27, 21, 5, 1, 123456000, time.UTC), Host: "db2", Service: "sshd", PID: 1, Kind: KindFailure, Method: "keyboard-interactive/pam", User: "admin", SourceIP: ip("192.0.2.9"), Port: 2222},
		},
		{
			name: "iso_stamp_with_offset",
			line: "2026-11-27T23:05:01+0100 db2 sshd[1]: Invalid user test from 192.0.2.10 port 1",
			want: Event{Time: time.Date(2026, 11, 27, 23, 5, 1, 0, time.FixedZone("", 3600)), Host: "db2", Service: "sshd", PID: 1, Kind: KindInvalidUser, User: "test", InvalidUser: true, SourceIP: ip("192.0.2.10"), Port: 1},
		},
		{
			name: "no_host",
			line: "Nov 27 21:50:37 sshd[8148]: Connection closed by 61.0.0.1 port 4 [preauth]",
			want: Event{Time: at(11, 27, 21, 50, 37), Service: "sshd", PID: 8148, Kind: KindPreauthDisconnect, SourceIP: ip("61.0.0.1"), Port: 4},
		},
		{
			name: "no_stamp_journal_short",
			line: "srv sshd[2716]: Failed none for invalid user guest from 192.0.2.3 port 9 ssh2",
			want: Event{Host: "srv", Service: "sshd", PID: 2716, Kind: KindFailure, Method: "none", User: "guest", InvalidUser: true, SourceIP: ip("192.0.2.3"), Port: 9},
		},
		{
			name: "year_before_ref",
			line: "Dec 31 23:59:59 h sshd[1]: Invalid user x from 192.0.2.1",
			want: Event{Time: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC), Host: "h", Service: "sshd", PID: 1, Kind: KindInvalidUser, User: "x", InvalidUser: true, SourceIP: ip("192.0.2.1")},
		},
		{
			name: "sshd_session_process",
			line: "Nov 27 14:59:17 host sshd-session[1571]: Connection closed by invalid user admin 192.0.2.1 port 56502 [preauth]",
			want: Event{Time: at(11, 27, 14, 59, 17), Host: "host", Service: "sshd", PID: 1571, Kind: KindPreauthDisconnect, User: "admin", InvalidUser: true, SourceIP: ip("192.0.2.1"), Port: 56502},
		},
		{
			name: "connection_reset_authenticating",
			line: "Nov 27 09:29:50 host sshd[19131]: Connection reset by authenticating user root 192.0.2.20 port 1558 [preauth]",
			want: Event{Time: at(11, 27, 9, 29, 50), Host: "host", Service: "sshd", PID: 19131, Kind: KindPreauthDisconnect, User: "root", SourceIP: ip("192.0.2.20"), Port: 1558},
		},
		{
			name: "disconnected_session_end",
			line: "Nov 27 09:29:50 host sshd[19131]: Disconnected from user alice 192.0.2.20 port 1558",
			want: Event{Time: at(11, 27, 9, 29, 50), Host: "host", Service: "sshd", PID: 19131, Kind: KindSessionClose, User: "alice", SourceIP: ip("192.0.2.20"), Port: 1558},
		},
		{
			name: "received_disconnect_preauth",
			line: "Nov 27 06:55:48 LabSZ sshd[24202]: Received disconnect from 173.234.31.186 port 38926:11: Bye Bye [preauth]",
			want: Event{Time: at(11, 27, 6, 55, 48), Host: "LabSZ", Service: "sshd", PID: 24202, Kind: KindPreauthDisconnect, SourceIP: ip("173.234.31.186"), Port: 38926},
		},
		{
			name: "received_disconnect_session_end",
			line: "Nov 27 06:55:48 LabSZ sshd[24202]: Received disconnect from 173.234.31.186 port 38926:11: disconnected by user",
			no:   true,
		},
		{
			name: "max_attempts",
			line: "Nov 27 21:50:38 myhost sshd[109798]: error: maximum authentication attempts exceeded for invalid user xxx from 192.0.2.7 port 49941 ssh2 [preauth]",
			want: Event{Time: at(11, 27, 21, 50, 38), Host: "myhost", Service: "sshd", PID: 109798, Kind: KindMaxAttempts, User: "xxx", InvalidUser: true, SourceIP: ip("192.0.2.7"), Port: 49941},
		},
		{
			name: "pam_more_failures",
			line: "Nov 27 07:08:12 LabSZ sshd[24212]: PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root",
			want: Event{Time: at(11, 27, 7, 8, 12), Host: "LabSZ", Service: "sshd", PID: 24212, Kind: KindPAMFailure, Method: "pam", User: "root", SourceIP: ip("112.95.230.3"), Count: 5},
		},
		{
			name: "pam_unix_sshd_auth_hostname",
			line: "Nov 27 07:08:12 LabSZ sshd[24212]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=scanner.example.net  user=root",
			want: Event{Time: at(11, 27, 7, 8, 12), Host: "LabSZ", Service: "sshd", PID: 24212, Kind: KindPAMFailure, Method: "pam", User: "root", RemoteHost: "scanner.example.net"},
		},
		{
			name: "message_repeated",
			line: "Nov 27 10:34:51 LabSZ sshd[24929]: message repeated 5 times: [ Failed password for root from 183.62.140.253 port 50444 ssh2]",
			want: Event{Time: at(11, 27, 10, 34, 51), Host: "LabSZ", Service: "sshd", PID: 24929, Kind: KindFailure, Method: "password", User: "root", SourceIP: ip("183.62.140.253"), Port: 50444, Count: 5},
		},
		{
			name: "user_not_allowed",
			line: "Nov 27 22:01:15 gw sshd[5154]: User root from 46.45.128.3 not allowed because listed in DenyUsers",
			want: Event{Time: at(11, 27, 22, 1, 15), Host: "gw", Service: "sshd", PID: 5154, Kind: KindInvalidUser, User: "root", InvalidUser: true, SourceIP: ip("46.45.128.3")},
		},
		{
			name: "did_not_receive_identification",
			line: "Nov 27 01:11:57 host sshd[8782]: Did not receive identification string from 192.0.2.5 port 35836",
			want: Event{Time: at(11, 27, 1, 11, 57), Host: "host", Service: "sshd", PID: 8782, Kind: KindProtocolError, SourceIP: ip("192.0.2.5"), Port: 35836},
		},
		{
			name: "bad_protocol_version_injection",
			line: "Nov 27 01:11:58 host sshd[8783]: Bad protocol version identification 'x' from 192.0.2.1' from 69.61.56.115 port 31778",
			want: Event{Time: at(11, 27, 1, 11, 58), Host: "host", Service: "sshd", PID: 8783, Kind: KindProtocolError, SourceIP: ip("69.61.56.115"), Port: 31778},
		},
		{
			name: "username_injection",
			line: "Nov 27 08:04:52 rb sshd[2737]: Failed password for invalid user test from 10.10.1.2 port 55555 ssh2 from 127.0.0.1 port 58946 ssh2",
			want: Event{Time: at(11, 27, 8, 4, 52), Host: "rb", Service: "sshd", PID: 2737, Kind: KindFailure, Method: "password", User: "test from 10.10.1.2 port 55555 ssh2", InvalidUser: true, SourceIP: ip("127.0.0.1"), Port: 58946},
		},
		{
			name: "rfc5424",
			line: `<38>1 2026-11-27T17:40:17.954167-04:00 h.example.com sshd 55555 - [tq tzKnown="1"][x@1 t="[b]"] Failed password for bob from 192.0.2.2 port 5 ssh2`,
			want: Event{Time: time.Date(2026, 11, 27, 17, 40, 17, 954167000, time.FixedZone("", -4*3600)), Host: "h.example.com", Service: "sshd", PID: 55555, Kind: KindFailure, Method: "password", User: "bob", SourceIP: ip("192.0.2.2"), Port: 5},
		},
		{
			name: "session_opened",
			line: "Nov 27 18:53:20 bar sshd[1556]: pam_unix(sshd:session): session opened for user rda(uid=1000) by (uid=0)",
			want: Event{Time: at(11, 27, 18, 53, 20), Host: "bar", Service: "sshd", PID: 1556, Kind: KindSessionOpen, User: "rda"},
		},
		{
			name: "su_failed",
			line: "Nov 27 12:00:01 ws su[4001]: FAILED SU (to root) alice on pts/0",
			want: Event{Time: at(11, 27, 12, 0, 1), Host: "ws", Service: "su", PID: 4001, Kind: KindFailure, User: "root", ByUser: "alice", TTY: "pts/0"},
		},
		{
			name: "su_pam_failure",
			line: "Nov 27 12:00:01 ws su[4001]: pam_unix(su:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=root",
			want: Event{Time: at(11, 27, 12, 0, 1), Host: "ws", Service: "su", PID: 4001, Kind: KindPAMFailure, Method: "pam", User: "root", ByUser: "alice", TTY: "/dev/pts/0"},
		},
		{
			name: "su_success",
			line: "Nov 27 12:00:05 ws su[4002]: Successful su for root by alice",
			want: Event{Time: at(11, 27, 12, 0, 5), Host: "ws", Service: "su", PID: 4002, Kind: KindSuccess, User: "root", ByUser: "alice"},
		},
		{
			name: "su_session",
			line: "Nov 27 12:00:05 ws su[4002]: pam_unix(su-l:session): session opened for user root(uid=0) by alice(uid=1000)",
			want: Event{Time: at(11, 27, 12, 0, 5), Host: "ws", Service: "su", PID: 4002, Kind: KindSessionOpen, User: "root", ByUser: "alice"},
		},
		{
			name: "sudo_command",
			line: "Nov 27 12:01:00 ws sudo[4100]:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
			want: Event{Time: at(11, 27, 12, 1, 0), Host: "ws", Service: "sudo", PID: 4100, Kind: KindSuccess, User: "root", ByUser: "alice", TTY: "pts/0"},
		},
		{
			name: "sudo_incorrect_password",
			line: "Nov 27 12:01:30 ws sudo[4101]: alice : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/tmp ; USER=root ; COMMAND=/usr/bin/id",
			want: Event{Time: at(11, 27, 12, 1, 30), Host: "ws", Service: "sudo", PID: 4101, Kind: KindFailure, User: "root", ByUser: "alice", TTY: "pts/1", Count: 3},
		},
		{
			name: "sudo_pam_failure",
			line: "Nov 27 12:01:20 ws sudo[4101]: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/1 ruser=alice rhost=  user=alice",
			want: Event{Time: at(11, 27, 12, 1, 20), Host: "ws", Service: "sudo", PID: 4101, Kind: KindPAMFailure, Method: "pam", User: "alice", ByUser: "alice", TTY: "/dev/pts/1"},
		},
		{
			name: "login_failed",
			line: "Nov 27 13:00:00 ws login[600]: FAILED LOGIN (1) on '/dev/tty1' FROM 'kiosk.lan' FOR 'root', Authentication failure",
			want: Event{Time: at(11, 27, 13, 0, 0), Host: "ws", Service: "login", PID: 600, Kind: KindFailure, User: "root", TTY: "tty1", RemoteHost: "kiosk.lan"},
		},
		{
			name: "login_root",
			line: "Nov 27 13:00:09 ws login[600]: ROOT LOGIN  on '/dev/tty1'",
			want: Event{Time: at(11, 27, 13, 0, 9), Host: "ws", Service: "login", PID: 600, Kind: KindSuccess, User: "root", TTY: "tty1"},
		},
		{
			name: "login_root_plain",
			line: "Nov 27 13:00:09 ws login[600]: ROOT LOGIN ON tty1",
			want: Event{Time: at(11, 27, 13, 0, 9), Host: "ws", Service: "login", PID: 600, Kind: KindSuccess, User: "root", TTY: "tty1"},
		},
		{
			name: "audit_user_auth",
			line: `type=USER_AUTH msg=audit(1795900000.123:603): pid=12887 uid=0 auid=4294967295 ses=4294967295 msg='op=password acct="dan" exe="/usr/sbin/sshd" hostname=? addr=192.168.3.100 terminal=ssh res=failed'`,
			want: Event{Time: time.Unix(1795900000, 123000000).UTC(), Service: "sshd", PID: 12887, Kind: KindFailure, Method: "password", User: "dan", SourceIP: ip("192.168.3.100")}, // not dialled
		},
		{
			name: "audit_hex_acct",
			line: `type=USER_LOGIN msg=audit(1795900001.000:604): pid=12000 uid=0 msg='op=login acct=28696E76616C6964207573657229 exe="/usr/sbin/sshd" hostname=? addr=2001:db8::1 terminal=ssh res=failed'`,
			want: Event{Time: time.Unix(1795900001, 0).UTC(), Service: "sshd", PID: 12000, Kind: KindPreauthDisconnect, Method: "login", InvalidUser: true, SourceIP: ip("2001:db8::1")},
		},
		{name: "other_program", line: "Nov 27 13:00:09 ws cron[600]: Failed password for root from 1.2.3.4 port 1 ssh2", no: true},
		{name: "reverse_mapping", line: "Nov 27 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for x.example [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!", no: true},
		{name: "check_pass", line: "Nov 27 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown", no: true},
		{name: "connection_closed_plain", line: "Nov 27 06:55:46 h sshd[1]: Connection closed by 192.0.2.5", no: true},
		{name: "garbage", line: "Nov 27 06:55:46", no: true},
		{name: "bad_clock", line: "Nov 27 26:55:46 h sshd[1]: Invalid user x from 192.0.2.1", no: true},
		{name: "audit_syscall", line: "type=SYSCALL msg=audit(1.0:1): arch=c000003e syscall=59", no: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseLine(tc.line, ref)
			if tc.no {
				if ok {
					t.Fatalf("ParseLine(%q) = %+v, want not a record", tc.line, got)
				}
				return
			}
			if !ok {
				t.Fatalf("ParseLine(%q): not parsed", tc.line)
			}
			want := tc.want
			want.Raw = tc.line
			if want.Count == 0 {
				want.Count = 1
			}
			if diff := eventDiff(want, got); diff != "" {
				t.Errorf("ParseLine(%q) (-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestParseLineYear(t *testing.T) {
	// The latest year that puts the stamp no more than a day after ref.
	tests := []struct {
		ref  time.Time
		line string
		year int
	}{
		{time.Date(2027, 1, 1, 0, 30, 0, 0, time.UTC), "Dec 31 23:59:59 h sshd[1]: Invalid user x from 192.0.2.1", 2026},
		{time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), "Jan  1 00:10:00 h sshd[1]: Invalid user x from 192.0.2.1", 2027},
		{time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), "Jun  2 12:00:00 h sshd[1]: Invalid user x from 192.0.2.1", 2025},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "Feb 29 12:00:00 h sshd[1]: Invalid user x from 192.0.2.1", 2024},
	}
	for _, tc := range tests {
		ev, ok := ParseLine(tc.line, tc.ref)
		if !ok || ev.Time.Year() != tc.year {
			t.Errorf("ParseLine(%q, %v) year = %d (ok %v), want %d", tc.line, tc.ref, ev.Time.Year(), ok, tc.year)
		}
	}
}
