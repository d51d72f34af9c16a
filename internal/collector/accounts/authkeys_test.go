package accounts

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Keys made with ssh-keygen; fingerprints as `ssh-keygen -lf` printed them.
const (
	edKey  = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK3EzYn2QBC9CF2le3S7EtZzhSIxtE9Gcq0E34Tgv3IZ"
	edFP   = "SHA256:rvChLLzULw/xjV3dVss/5XAekAeQDutanmABfl1qqgc"
	rsaKey = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCJVGp5EeJNjkft09ui+LZH5578FFiPlsBbhTG3tBzaxJLaZtjwL6nuGB4vYUUfqoBfyNnr24Ym5y4+VE1AxJTXVfKtKXeTmHHfrh0LaZdZs6DpH//ElgtRDPlKign3ESPmbrwQ3ugaYW2f6vUrksez897V7zVEMOfYwWioBUm6cFKG4nJnac/On8hSbVGfnAnTj/PuAGM5QqlDNrd9IypshoF/jVGF/6AjP2K0czdkJraDglSHaKY35fD8JSY1QlDBtb2vKdnAmrKXsurdJHgcWtGlQkNO7mrLWroFbyJTQRH7ZGptWVXFvfZLD740HJ2INhQymszFY4BmvsCG6rUb"
	rsaFP  = "SHA256:/5paHSTHOsskRFWX/sd2/MfBvinBAKxBQz/Yp8TeB7Q"
	ecKey  = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBM/uHtws4/VS7gLzhjYxF2gN+oGv8dZtkg/6IKVB/V9UBhjEFg0dbO5fhJKrnbW4He9NlbM1P7KAMZtW0CIV/L8="
	ecFP   = "SHA256:jlFypkvUa/Oax0Y8e1R73du6Gh5rIqh8MMbYhFaKfPo"
)

func TestParseAuthorizedKeys(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []AuthorizedKeyEntry
		wantErr []string
	}{
		{
			name: "plain_keys",
			in:   "# keys\n" + edKey + " alice@laptop\n\n" + rsaKey + " deploy key\n" + ecKey + "\n",
			want: []AuthorizedKeyEntry{
				{Line: 2, Type: "ssh-ed25519", Fingerprint: edFP, Comment: "alice@laptop"},
				{Line: 4, Type: "ssh-rsa", Fingerprint: rsaFP, Comment: "deploy key"},
				{Line: 5, Type: "ecdsa-sha2-nistp256", Fingerprint: ecFP},
			},
		},
		{
			name: "options_with_quoted_commas",
			in: `command="echo a,b",no-pty ` + edKey + " comment here\n" +
				`from="10.0.0.0/8,!10.1.2.3",environment="X=\"q\" y",restrict ` + rsaKey + "\n" +
				"  \tno-port-forwarding\t" + ecKey + "\tbackup\n",
			want: []AuthorizedKeyEntry{
				{Line: 1, Type: "ssh-ed25519", Fingerprint: edFP, Comment: "comment here", Options: []string{`command="echo a,b"`, "no-pty"}},
				{Line: 2, Type: "ssh-rsa", Fingerprint: rsaFP, Options: []string{`from="10.0.0.0/8,!10.1.2.3"`, `environment="X=\"q\" y"`, "restrict"}},
				{Line: 3, Type: "ecdsa-sha2-nistp256", Fingerprint: ecFP, Comment: "backup", Options: []string{"no-port-forwarding"}},
			},
		},
		{
			name: "malformed_lines",
			in: "ssh-ed25519 !!!notbase64 x\n" +
				"ssh-rsa " + strings.Fields(edKey)[1] + "\n" +
				`command="unterminated ` + edKey + "\n" +
				"garbage\n" +
				"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK3E\n" +
				edKey + " ok\n",
			want: []AuthorizedKeyEntry{{Line: 6, Type: "ssh-ed25519", Fingerprint: edFP, Comment: "ok"}},
			wantErr: []string{
				`line 1: key "ssh-ed25519": invalid base64`,
				`line 2: key type "ssh-rsa" does not match key data ("ssh-ed25519")`,
				"line 3: unterminated quoted option",
				"line 4: no key after options",
				`line 5: key "ssh-ed25519": ssh: short read`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs, err := ParseAuthorizedKeys(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantErr, errStrings(errs)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuthorizedKeysFiles(t *testing.T) {
	tests := []struct {
		name     string
		files    fstest.MapFS
		want     []string
		problems int
	}{
		{"no_config", fstest.MapFS{}, defaultAuthorizedKeysFiles, 0},
		{
			name:  "debian_commented",
			files: fstest.MapFS{"etc/ssh/sshd_config": {Data: []byte("Include /etc/ssh/sshd_config.d/*.conf\n#AuthorizedKeysFile	.ssh/authorized_keys .ssh/authorized_keys2\n")}},
			want:  defaultAuthorizedKeysFiles,
		},
		{
			name: "drop_in_wins",
			files: fstest.MapFS{
				"etc/ssh/sshd_config":                {Data: []byte("Include sshd_config.d/*.conf\nAuthorizedKeysFile .ssh/authorized_keys\n")},
				"etc/ssh/sshd_config.d/10-keys.conf": {Data: []byte("authorizedkeysfile \"/etc/ssh/keys/%u\" %h/.ssh/ak\n")},
			},
			want: []string{"/etc/ssh/keys/%u", "%h/.ssh/ak"},
		},
		{
			name:  "match_block_ignored",
			files: fstest.MapFS{"etc/ssh/sshd_config": {Data: []byte("Match User git\n  AuthorizedKeysFile /srv/git/keys\nMatch all\nAuthorizedKeysFile=.ssh/authorized_keys\n")}},
			want:  []string{".ssh/authorized_keys"},
		},
		{
			name:  "none",
			files: fstest.MapFS{"etc/ssh/sshd_config": {Data: []byte("AuthorizedKeysFile none\n")}},
			want:  []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var problems plugin.Problems
			got := authorizedKeysFiles(tt.files, &problems)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if problems.Len() != tt.problems {
				t.Errorf("problems = %v, want %d", problems.Err(), tt.problems)
			}
		})
	}
}

func TestExpandKeysFile(t *testing.T) {
	tests := []struct {
		pattern, want, wantErr string
	}{
		{".ssh/authorized_keys", "/home/alice/.ssh/authorized_keys", ""},
		{"%h/.ssh/keys", "/home/alice/.ssh/keys", ""},
		{"/etc/ssh/keys/%u", "/etc/ssh/keys/alice", ""},
		{"/etc/ssh/keys/%U-100%%", "/etc/ssh/keys/1000-100%", ""},
		{"/keys/%x", "", `AuthorizedKeysFile "/keys/%x": unknown token %x`},
		{"/keys/%", "", `AuthorizedKeysFile "/keys/%": trailing '%'`},
	}
	for _, tt := range tests {
		t.Run(strings.ReplaceAll(tt.pattern, "/", "_"), func(t *testing.T) {
			got, err := expandKeysFile(tt.pattern, "/home/alice", "alice", 1000)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("expandKeysFile(%q) = %q, %q; want %q, %q", tt.pattern, got, gotErr, tt.want, tt.wantErr)
			}
		})
	}
}
