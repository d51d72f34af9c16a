package accounts

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

// userSummary is the part of a User the fixture tests pin, in a form
// that reads well in a diff.
type userSummary struct {
	UID         int
	Privileged  bool
	Interactive bool
	Sudo        bool
	Groups      []string
	Password    string // state[/scheme][ changed=date][ max=days]
	Keys        []string
	SudoRules   []string
	LastLogin   string
}

func summarize(acc *inventory.Accounts) (order []string, users map[string]userSummary) {
	users = map[string]userSummary{}
	for _, u := range acc.Users {
		order = append(order, u.Name)
		s := userSummary{
			UID: u.UID, Privileged: u.Privileged, Interactive: u.InteractiveShell, Sudo: u.Sudo,
			Groups: u.Groups, SudoRules: u.SudoRules, Password: u.PasswordState,
		}
		if u.PasswordScheme != "" {
			s.Password += "/" + u.PasswordScheme
		}
		if u.PasswordLastChange != nil {
			s.Password += " changed=" + u.PasswordLastChange.Format(time.DateOnly)
		}
		if u.PasswordMaxDays != nil {
			s.Password += fmt.Sprintf(" max=%d", *u.PasswordMaxDays)
		}
		for _, k := range u.AuthorizedKeys {
			s.Keys = append(s.Keys, fmt.Sprintf("%s:%d %s %s %q %q", k.File, k.Line, k.Type, k.Fingerprint, k.Comment, k.Options))
		}
		if l := u.LastLogin; l != nil {
			s.LastLogin = fmt.Sprintf("%s %s %s %s %s", l.Source, l.User, l.TTY, l.Host, l.Time.Format(time.RFC3339))
		}
		users[u.Name] = s
	}
	return order, users
}

func collect(t *testing.T, dir string) (*inventory.Accounts, []string) {
	t.Helper()
	in := &collector.Input{Root: os.DirFS(dir), RootPath: dir, Now: time.Now}
	inv, err := New().Collect(context.Background(), in)
	st := plugin.StatusFromErr(err)
	if st.State != plugin.StateSucceeded && st.State != plugin.StatePartial {
		t.Fatalf("Collect: %v", err)
	}
	if inv == nil || inv.Accounts == nil {
		t.Fatal("Collect returned no accounts")
	}
	return inv.Accounts, st.Problems
}

var (
	nologin = userSummary{Password: "locked"}
	t0      = time.Date(2024, 5, 14, 8, 0, 0, 0, time.UTC)
)

func locked(uid int, changed string) userSummary {
	s := nologin
	s.UID = uid
	if changed != "" {
		s.Password += " changed=" + changed
	}
	return s
}

func TestCollectDebian(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/debian.txtar")
	// wtmp as login and sshd write it, ending in a truncated record.
	var wtmp []byte
	wtmp = append(wtmp, utmpRecord(2, 0, "~", "reboot", "6.1.0-21-amd64", t0)...)
	wtmp = append(wtmp, utmpRecord(7, 812, "pts/0", "alice", "203.0.113.5", t0.Add(time.Hour))...)
	wtmp = append(wtmp, utmpRecord(8, 812, "pts/0", "", "", t0.Add(90*time.Minute))...)
	wtmp = append(wtmp, utmpRecord(7, 901, "pts/1", "bob", "198.51.100.20", t0.Add(2*time.Hour))...)
	wtmp = append(wtmp, utmpRecord(7, 955, "pts/2", "alice", "203.0.113.5", t0.Add(3*time.Hour))...)
	wtmp = append(wtmp, utmpRecord(7, 990, "pts/3", "alice", "203.0.113.5", t0.Add(4*time.Hour))[:100]...)
	// lastlog is sparse and indexed by uid.
	lastlog := make([]byte, 1002*LastlogSize)
	copy(lastlog[0:], lastlogRecord(t0.Add(-24*time.Hour), "tty1", ""))
	copy(lastlog[1000*LastlogSize:], lastlogRecord(t0.Add(time.Hour), "pts/0", "203.0.113.5"))
	copy(lastlog[1001*LastlogSize:], lastlogRecord(t0.Add(5*time.Hour), "pts/4", "198.51.100.20"))
	writeFile(t, filepath.Join(dir, "var/log/wtmp"), wtmp)
	writeFile(t, filepath.Join(dir, "var/log/lastlog"), lastlog)

	acc, problems := collect(t, dir)

	wantProblems := []string{
		"/etc/passwd:16: want 7 colon-separated fields, got 3",
		`/etc/group:17: group "badgroup": invalid gid "notanumber"`,
		`/etc/shadow:4: user "sys": invalid last change "abc"`,
		"/etc/sudoers.d/ops:6: missing '=' after host list",
		`/home/alice/.ssh/authorized_keys:4: key "ssh-ed25519": invalid base64`,
		"/var/log/wtmp: record 6: truncated record (100 of 384 bytes)",
	}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	rootKey := fmt.Sprintf("/root/.ssh/authorized_keys:1 ssh-ed25519 %s %q %q", edFP, "alice@laptop",
		[]string{`from="10.0.0.0/8,192.168.0.0/16"`, "no-agent-forwarding"})
	wantOrder := []string{"root", "daemon", "bin", "sys", "sync", "www-data", "_apt", "nobody", "systemd-network",
		"messagebus", "sshd", "alice", "bob", "deploy", "guest", "toor"}
	wantUsers := map[string]userSummary{
		"root": {
			Privileged: true, Interactive: true, Sudo: true,
			Password:  "set/yescrypt changed=2024-03-18",
			Keys:      []string{rootKey},
			SudoRules: []string{"/etc/sudoers:24: root	ALL=(ALL:ALL) ALL"},
			LastLogin: "lastlog root tty1  2024-05-13T08:00:00Z",
		},
		"daemon":          locked(1, "2024-03-18"),
		"bin":             locked(2, "2024-03-18"),
		"sys":             {UID: 3, Password: "unknown"},
		"sync":            locked(4, "2024-03-18"),
		"www-data":        locked(33, "2024-03-18"),
		"_apt":            locked(42, "2024-03-18"),
		"nobody":          locked(65534, "2024-03-18"),
		"systemd-network": locked(998, "2024-03-18"),
		"messagebus":      locked(100, "2024-03-18"),
		"sshd":            locked(101, "2024-03-18"),
		"alice": {
			UID: 1000, Interactive: true, Sudo: true,
			Groups:   []string{"adm", "sudo", "users"},
			Password: "set/yescrypt changed=2024-01-01 max=90",
			Keys: []string{
				fmt.Sprintf("/home/alice/.ssh/authorized_keys:2 ssh-ed25519 %s %q []", edFP, "alice@laptop"),
				fmt.Sprintf("/home/alice/.ssh/authorized_keys:3 ssh-rsa %s %q %q", rsaFP, "deploy key",
					[]string{`command="/usr/local/bin/backup --from a,b"`, "no-pty", "no-port-forwarding"}),
				fmt.Sprintf("/home/alice/.ssh/authorized_keys2:1 ecdsa-sha2-nistp256 %s \"\" []", ecFP),
			},
			SudoRules: []string{"/etc/sudoers:27: %sudo	ALL=(ALL:ALL) ALL"},
			LastLogin: "wtmp alice pts/2 203.0.113.5 2024-05-14T11:00:00Z",
		},
		"bob": {
			UID: 1001, Interactive: true, Sudo: true,
			Groups:    []string{"users", "ops"},
			Password:  "locked/sha512 changed=2024-02-27",
			SudoRules: []string{"/etc/sudoers.d/ops:5: OPS ALL = (root) NOPASSWD: WEB"},
			LastLogin: "lastlog bob pts/4 198.51.100.20 2024-05-14T13:00:00Z",
		},
		"deploy": {
			UID: 1002, Interactive: true, Sudo: true,
			Groups:    []string{"users"},
			Password:  "locked changed=2024-03-08",
			SudoRules: []string{"/etc/sudoers.d/90-cloud-init-users:4: deploy ALL=(ALL) NOPASSWD:ALL"},
		},
		"guest": {UID: 1003, Interactive: true, Password: "none changed=2022-01-08"},
		"toor": {
			Privileged: true, Interactive: true, Password: "unknown",
			Keys:      []string{rootKey},
			LastLogin: "lastlog toor tty1  2024-05-13T08:00:00Z",
		},
	}
	order, users := summarize(acc)
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("user order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantUsers, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}

	wantLogins := []inventory.Login{
		{User: "alice", TTY: "pts/2", Host: "203.0.113.5", Time: t0.Add(3 * time.Hour), Source: "wtmp"},
		{User: "bob", TTY: "pts/1", Host: "198.51.100.20", Time: t0.Add(2 * time.Hour), Source: "wtmp"},
		{User: "alice", TTY: "pts/0", Host: "203.0.113.5", Time: t0.Add(time.Hour), Source: "wtmp"},
	}
	if diff := cmp.Diff(wantLogins, acc.Logins); diff != "" {
		t.Errorf("logins (-want +got):\n%s", diff)
	}
	if len(acc.Groups) != 21 || acc.Groups[4].Name != "adm" || !cmp.Equal(acc.Groups[4].Members, []string{"alice"}) {
		t.Errorf("groups = %+v, want the 21 valid groups of /etc/group", acc.Groups)
	}
}

func TestCollectRHEL(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/rhel.txtar")
	acc, problems := collect(t, dir)

	wantProblems := []string{
		"/etc/group:40: want 4 colon-separated fields, got 3",
		"/etc/shadow:24: want 9 colon-separated fields, got 1",
		"/etc/sudoers.d/10-dba:8: missing command",
		"/etc/ssh/authorized_keys/svc-web:2: no key after options",
	}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	dbas := "/etc/sudoers.d/10-dba:5: DBAS ALL = (postgres) NOPASSWD: PG, (root) /usr/bin/journalctl -u postgresql"
	wantUsers := map[string]userSummary{
		"root": {
			Privileged: true, Interactive: true, Sudo: true, Password: "set/sha512 changed=2023-10-20",
			SudoRules: []string{"/etc/sudoers:41: root	ALL=(ALL) 	ALL"},
		},
		"bin":              locked(1, "2023-04-22"),
		"daemon":           locked(2, "2023-04-22"),
		"adm":              locked(3, "2023-04-22"),
		"lp":               locked(4, "2023-04-22"),
		"sync":             locked(5, "2023-04-22"),
		"shutdown":         locked(6, "2023-04-22"),
		"halt":             locked(7, "2023-04-22"),
		"mail":             locked(8, "2023-04-22"),
		"operator":         locked(11, "2023-04-22"),
		"games":            locked(12, "2023-04-22"),
		"ftp":              locked(14, "2023-04-22"),
		"nobody":           locked(65534, "2023-04-22"),
		"systemd-coredump": locked(999, "2023-10-20"),
		"dbus":             locked(81, "2023-10-20"),
		"tss":              locked(59, "2023-10-20"),
		"sssd":             locked(998, "2023-10-20"),
		"chrony":           locked(997, "2023-10-20"),
		"sshd":             locked(74, "2023-10-20"),
		"rocky": {
			UID: 1000, Interactive: true, Sudo: true, Groups: []string{"wheel"},
			Password:  "set/sha512 changed=2023-12-09",
			Keys:      []string{fmt.Sprintf("/home/rocky/.ssh/authorized_keys:1 ssh-ed25519 %s %q []", edFP, "rocky@workstation")},
			SudoRules: []string{"/etc/sudoers:48: %wheel	ALL=(ALL)	ALL"},
		},
		"oracle": {
			UID: 1001, Interactive: true, Sudo: true, Groups: []string{"dba"},
			Password: "locked changed=2023-12-09", SudoRules: []string{dbas},
		},
		"pgadmin": {
			UID: 1501, Interactive: true, Sudo: true,
			Password: "set/bcrypt changed=2023-12-19 max=180", SudoRules: []string{dbas},
		},
		"svc-web": {
			UID: 1502, Password: "locked changed=2023-12-19",
			Keys: []string{fmt.Sprintf("/etc/ssh/authorized_keys/svc-web:1 ecdsa-sha2-nistp256 %s %q %q", ecFP, "ci@build",
				[]string{"restrict", `command="/usr/local/bin/deploy-hook"`})},
			SudoRules: []string{"/etc/sudoers.d/10-dba:7: svc-web ALL = !ALL"},
		},
		"john doe": {UID: 1503, Interactive: true, Sudo: true, Password: "unknown", SudoRules: []string{dbas}},
	}
	_, users := summarize(acc)
	if diff := cmp.Diff(wantUsers, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	if acc.Logins != nil {
		t.Errorf("logins = %v, want none without wtmp", acc.Logins)
	}
}

func TestCollectAlpine(t *testing.T) {
	dir := testutil.TxtarToDir(t, "testdata/alpine.txtar")
	acc, problems := collect(t, dir)

	wantProblems := []string{
		"/etc/passwd:20: want 7 colon-separated fields, got 4",
		"/etc/group:38: empty group name",
		"/etc/shadow:20: empty user name",
		`/etc/doas.d/doas.conf:7: unexpected "extra"`,
	}
	if diff := cmp.Diff(wantProblems, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	wheel := "/etc/doas.d/doas.conf:4: permit persist :wheel"
	wantUsers := map[string]userSummary{
		"root": {
			Privileged: true, Interactive: true, Sudo: true, Password: "locked",
			Groups:    []string{"root", "bin", "daemon", "sys", "adm", "disk", "wheel", "floppy", "dialout", "tape", "video"},
			SudoRules: []string{wheel},
		},
		"bin":      {UID: 1, Password: "locked", Groups: []string{"bin", "daemon", "sys"}},
		"daemon":   {UID: 2, Password: "locked", Groups: []string{"bin", "daemon", "adm"}},
		"lp":       {UID: 4, Password: "locked", Groups: []string{"lp"}},
		"sync":     {UID: 5, Password: "locked"},
		"shutdown": {UID: 6, Password: "locked"},
		"halt":     {UID: 7, Password: "locked"},
		"mail":     {UID: 8, Password: "locked", Groups: []string{"mail"}},
		"news":     {UID: 9, Password: "locked", Groups: []string{"news"}},
		"uucp":     {UID: 10, Password: "locked", Groups: []string{"uucp"}},
		"cron":     {UID: 16, Password: "locked", Groups: []string{"cron"}},
		"ftp":      {UID: 21, Password: "locked"},
		"sshd":     {UID: 22, Password: "locked"},
		"games":    {UID: 35, Password: "locked", Groups: []string{"users"}},
		"ntp":      {UID: 123, Password: "locked"},
		"guest":    {UID: 405, Password: "locked"},
		"nobody":   {UID: 65534, Password: "locked"},
		"admin": {
			UID: 1000, Interactive: true, Sudo: true, Groups: []string{"wheel"},
			Password:  "set/sha512 changed=2024-05-07",
			Keys:      []string{fmt.Sprintf("/home/admin/.ssh/authorized_keys:1 ssh-ed25519 %s %q []", edFP, "admin@alpine")},
			SudoRules: []string{wheel},
		},
		"dev": {
			UID: 1001, Interactive: true, Password: "set/md5 changed=2024-05-07",
			SudoRules: []string{
				"/etc/doas.d/doas.conf:5: permit nopass dev as root cmd /sbin/apk",
				"/etc/doas.d/doas.conf:6: deny dev",
			},
		},
	}
	_, users := summarize(acc)
	if diff := cmp.Diff(wantUsers, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

func TestCollectNoPasswd(t *testing.T) {
	_, err := New().Collect(context.Background(), &collector.Input{Root: os.DirFS(t.TempDir())})
	if !errors.Is(err, plugin.ErrSkipped) {
		t.Errorf("Collect on an empty root: err = %v, want a skip", err)
	}
}

// TestCollectShadowUnreadable runs as a user who cannot read /etc/shadow:
// the run is partial and every password state is unknown, except where
// passwd itself holds the hash.
func TestCollectShadowUnreadable(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/bash\nlegacy::1000:1000::/home/legacy:/bin/sh\n"))
	writeFile(t, filepath.Join(dir, "etc/group"), []byte("root:x:0:\n"))
	writeFile(t, filepath.Join(dir, "etc/shadow"), []byte("root:$6$x$y:19000:0:99999:7:::\n"))
	fsys := denyFS{FS: os.DirFS(dir), deny: "etc/shadow"}
	inv, err := New().Collect(context.Background(), &collector.Input{Root: fsys, RootPath: dir})
	st := plugin.StatusFromErr(err)
	want := []string{"read /etc/shadow: open etc/shadow: permission denied (password states are unknown)"}
	if st.State != plugin.StatePartial || !cmp.Equal(st.Problems, want) {
		t.Errorf("status = %+v, want partial with %q", st, want)
	}
	var got []string
	for _, u := range inv.Accounts.Users {
		got = append(got, u.Name+"="+u.PasswordState)
		if u.AuthorizedKeys == nil {
			t.Errorf("user %s: AuthorizedKeys is nil, want []", u.Name)
		}
	}
	if diff := cmp.Diff([]string{"root=unknown", "legacy=none"}, got); diff != "" {
		t.Errorf("password states (-want +got):\n%s", diff)
	}
}

// denyFS fails to open one path with a permission error, as a non-root
// user sees /etc/shadow.
type denyFS struct {
	fs.FS
	deny string
}

func (d denyFS) Open(name string) (fs.File, error) {
	if name == d.deny {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
	}
	return d.FS.Open(name)
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
