package accounts

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSudoers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Sudoers
		wantErr []string
	}{
		{
			name: "debian_default",
			in: `#
# This file MUST be edited with the 'visudo' command as root.
#
Defaults	env_reset
Defaults	mail_badpass
Defaults	secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
Defaults	use_pty

# User privilege specification
root	ALL=(ALL:ALL) ALL

# Allow members of group sudo to execute any command
%sudo	ALL=(ALL:ALL) ALL

# See sudoers(5) for more information on "@include" directives:

@includedir /etc/sudoers.d
`,
			want: &Sudoers{
				Rules: []SudoRule{
					{Line: 10, Text: "root	ALL=(ALL:ALL) ALL", Users: []ListItem{{Value: "root"}}, Grants: true},
					{Line: 13, Text: "%sudo	ALL=(ALL:ALL) ALL", Users: []ListItem{{Value: "%sudo"}}, Grants: true},
				},
				Includes: []SudoInclude{{Line: 17, Path: "/etc/sudoers.d", Dir: true}},
			},
		},
		{
			name: "rhel_aliases_and_tags",
			in: `Host_Alias     FILESERVERS = fs1, fs2
Cmnd_Alias NETWORKING = /sbin/route, /sbin/ifconfig, /bin/ping, /sbin/dhclient, /usr/bin/net, /sbin/iptables
User_Alias ADMINS = jsmith, mikem : OPS = %ops, #1005
Defaults:ADMINS !requiretty
Defaults>root !set_logname
root	ALL=(ALL) 	ALL
%wheel	ALL=(ALL)	ALL
# %wheel	ALL=(ALL)	NOPASSWD: ALL
ADMINS ALL = NOPASSWD: NETWORKING
OPS, !mikem FILESERVERS = (root) NOPASSWD:SETENV: /usr/bin/systemctl restart httpd, /usr/bin/systemctl status *
%#1010 ALL = (ALL : ALL) ALL
#include /etc/sudoers.local
#includedir /etc/sudoers.d
`,
			want: &Sudoers{
				Rules: []SudoRule{
					{Line: 6, Text: "root	ALL=(ALL) 	ALL", Users: []ListItem{{Value: "root"}}, Grants: true},
					{Line: 7, Text: "%wheel	ALL=(ALL)	ALL", Users: []ListItem{{Value: "%wheel"}}, Grants: true},
					{Line: 9, Text: "ADMINS ALL = NOPASSWD: NETWORKING", Users: []ListItem{{Value: "ADMINS"}}, Grants: true},
					{
						Line: 10, Text: "OPS, !mikem FILESERVERS = (root) NOPASSWD:SETENV: /usr/bin/systemctl restart httpd, /usr/bin/systemctl status *",
						Users: []ListItem{{Value: "OPS"}, {Negated: true, Value: "mikem"}}, Grants: true,
					},
					{Line: 11, Text: "%#1010 ALL = (ALL : ALL) ALL", Users: []ListItem{{Value: "%#1010"}}, Grants: true},
				},
				UserAliases: []SudoAlias{
					{Line: 3, Name: "ADMINS", Members: []ListItem{{Value: "jsmith"}, {Value: "mikem"}}},
					{Line: 3, Name: "OPS", Members: []ListItem{{Value: "%ops"}, {Value: "#1005"}}},
				},
				Includes: []SudoInclude{
					{Line: 12, Path: "/etc/sudoers.local"},
					{Line: 13, Path: "/etc/sudoers.d", Dir: true},
				},
			},
		},
		{
			name: "continuation_negation_and_hosts",
			in: "User_Alias WEB = \\\n    www1, \\\n    www2\n" +
				"WEB ALL = !ALL\n" +
				"carol ALL = (root) !/bin/sh, \\\n  /usr/bin/apt update : db1 = sha256:qUfrsA2q1n7vPEW7h1sE8q/cT7Gd0k0J4iXMNEXkTmI= /usr/bin/psql\n" +
				"\"dom user\" ALL = CWD=/tmp TIMEOUT=5m /bin/ls   # trailing comment\n" +
				"#0 ALL = ALL\n" +
				"dave ALL=(ALL) /bin/echo a\\,b\\:c, !/bin/rm\n",
			want: &Sudoers{
				Rules: []SudoRule{
					{Line: 4, Text: "WEB ALL = !ALL", Users: []ListItem{{Value: "WEB"}}},
					{
						Line:  5,
						Text:  "carol ALL = (root) !/bin/sh, /usr/bin/apt update : db1 = sha256:qUfrsA2q1n7vPEW7h1sE8q/cT7Gd0k0J4iXMNEXkTmI= /usr/bin/psql",
						Users: []ListItem{{Value: "carol"}}, Grants: true,
					},
					{Line: 7, Text: `"dom user" ALL = CWD=/tmp TIMEOUT=5m /bin/ls   # trailing comment`, Users: []ListItem{{Value: "dom user"}}, Grants: true},
					{Line: 8, Text: "#0 ALL = ALL", Users: []ListItem{{Value: "#0"}}, Grants: true},
					{Line: 9, Text: `dave ALL=(ALL) /bin/echo a\,b\:c, !/bin/rm`, Users: []ListItem{{Value: "dave"}}, Grants: true},
				},
				UserAliases: []SudoAlias{{Line: 1, Name: "WEB", Members: []ListItem{{Value: "www1"}, {Value: "www2"}}}},
			},
		},
		{
			name: "malformed_lines",
			in: "root ALL=(ALL) ALL\n" +
				"alice ALL\n" +
				"User_Alias admins = bob\n" +
				"bob ALL = (ALL\n" +
				"eve ALL = NOPASSWD:\n" +
				"#include\n" +
				"User_Alias OK = x y\n" +
				"%sudo ALL=(ALL:ALL) ALL\n",
			want: &Sudoers{
				Rules: []SudoRule{
					{Line: 1, Text: "root ALL=(ALL) ALL", Users: []ListItem{{Value: "root"}}, Grants: true},
					{Line: 8, Text: "%sudo ALL=(ALL:ALL) ALL", Users: []ListItem{{Value: "%sudo"}}, Grants: true},
				},
			},
			wantErr: []string{
				`line 2: missing '=' after host list`,
				`line 3: User_Alias: invalid alias name "admins"`,
				"line 4: unterminated runas list",
				"line 5: missing command",
				"line 6: include directive without a path",
				`line 7: User_Alias OK: unexpected 'y'`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := ParseSudoers(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("sudoers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, errStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSudoPolicyForUser(t *testing.T) {
	const conf = `User_Alias ADMINS = alice, %ops, !mallory
User_Alias ALLBUT = ALL, !ADMINS
ADMINS ALL = (ALL) ALL
%wheel ALL = (ALL) NOPASSWD: ALL
%#2000 ALL = /usr/bin/systemctl
#1234 ALL = ALL
ALLBUT ALL = !ALL
`
	s, errs, err := ParseSudoers(strings.NewReader(conf))
	if err != nil || len(errs) > 0 {
		t.Fatalf("parse: %v %v", err, errStrings(errs))
	}
	pol := &sudoPolicy{aliases: map[string][]ListItem{}}
	for _, a := range s.UserAliases {
		pol.aliases[a.Name] = a.Members
	}
	for _, r := range s.Rules {
		pol.rules = append(pol.rules, policyRule{source: r.Text, users: r.Users, grants: r.Grants})
	}
	user := func(name string, uid int, groups map[string]bool, gids ...int) *sudoUser {
		u := &sudoUser{name: name, uid: uid, groups: groups, gids: map[int]bool{}}
		for _, g := range gids {
			u.gids[g] = true
		}
		return u
	}
	tests := []struct {
		name       string
		u          *sudoUser
		wantRules  []string
		wantGrants bool
	}{
		{"direct_alias", user("alice", 1000, nil, 1000), []string{"ADMINS ALL = (ALL) ALL"}, true},
		{"group_in_alias", user("olga", 1001, map[string]bool{"ops": true}, 1001), []string{"ADMINS ALL = (ALL) ALL"}, true},
		{"negated_in_alias", user("mallory", 1002, map[string]bool{"ops": true}, 1002), []string{"ALLBUT ALL = !ALL"}, false},
		{"primary_group_by_name", user("walt", 1003, map[string]bool{"wheel": true}, 10), []string{"%wheel ALL = (ALL) NOPASSWD: ALL", "ALLBUT ALL = !ALL"}, true},
		{"group_by_gid", user("gina", 1004, nil, 2000), []string{"%#2000 ALL = /usr/bin/systemctl", "ALLBUT ALL = !ALL"}, true},
		{"uid", user("ursula", 1234, nil, 1234), []string{"#1234 ALL = ALL", "ALLBUT ALL = !ALL"}, true},
		{"nobody", user("nobody", 65534, map[string]bool{"nogroup": true}, 65534), []string{"ALLBUT ALL = !ALL"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, grants := pol.forUser(tt.u)
			if diff := cmp.Diff(tt.wantRules, rules); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if grants != tt.wantGrants {
				t.Errorf("grants = %v, want %v", grants, tt.wantGrants)
			}
		})
	}
}

func TestParseDoas(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []DoasRule
		wantErr []string
	}{
		{
			name: "alpine",
			in: "# see doas.conf(5)\npermit persist :wheel\n" +
				"permit nopass setenv { PATH=/usr/bin -HOME } alice as root cmd /sbin/apk args update\n" +
				"deny bob\n" +
				"permit nopass \"carl\" cmd \\\n   /usr/bin/reboot\n",
			want: []DoasRule{
				{Line: 2, Text: "permit persist :wheel", Permit: true, Identity: ":wheel"},
				{Line: 3, Text: "permit nopass setenv { PATH=/usr/bin -HOME } alice as root cmd /sbin/apk args update", Permit: true, Identity: "alice", Restricted: true},
				{Line: 4, Text: "deny bob", Identity: "bob"},
				{Line: 5, Text: `permit nopass "carl" cmd /usr/bin/reboot`, Permit: true, Identity: "carl", Restricted: true},
			},
		},
		{
			name: "malformed",
			in:   "allow :wheel\npermit nopass\npermit setenv { A=1 alice\npermit alice as\npermit :wheel extra\npermit \"x\npermit :adm\n",
			want: []DoasRule{{Line: 7, Text: "permit :adm", Permit: true, Identity: ":adm"}},
			wantErr: []string{
				`line 1: unknown action "allow", want permit or deny`,
				"line 2: missing identity",
				"line 3: setenv without '}'",
				"line 4: 'as' without a target",
				`line 5: unexpected "extra"`,
				"line 6: unterminated quoted string",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := ParseDoas(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rules (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, errStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
