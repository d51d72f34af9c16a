package task

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/server/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Signer is the agent link's TaskSigner (internal/server/link).
var _ interface {
	SignRun(ctx context.Context, t store.Task, r store.TaskRun) (payload, sig []byte, err error)
} = (*Signer)(nil)

func TestParseParams(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		params  string
		want    string // canonical JSON
		wantErr string
		wantIs  error
	}{
		{name: "collect_empty", typ: "collect", params: ``, want: `{}`},
		{name: "collect_null", typ: "collect", params: `null`, want: `{}`},
		{name: "collect_some", typ: "collect", params: `{"collectors": ["host", "ports"]}`, want: `{"collectors":["host","ports"]}`},
		{name: "collect_unknown_collector", typ: "collect", params: `{"collectors": ["host", "shell"]}`, wantErr: `unknown collector "shell"`},
		{name: "collect_twice", typ: "collect", params: `{"collectors": ["host", "host"]}`, wantErr: `"host" named twice`},
		{name: "unknown_field", typ: "collect", params: `{"collectors": [], "command": "id"}`, wantErr: `unknown field "command"`, wantIs: ErrInvalidParams},
		{name: "duplicate_key", typ: "quarantine_file", params: `{"path": "/tmp/a", "path": "/etc/passwd"}`, wantErr: `duplicate key "path"`},
		{name: "nested_duplicate_key", typ: "collect", params: `{"collectors": [{"a":1,"a":2}]}`, wantErr: `duplicate key "a"`},
		{name: "trailing", typ: "collect", params: `{} {}`, wantErr: "trailing data"},
		{name: "array", typ: "collect", params: `[]`, wantErr: "want a JSON object"},
		{name: "wrong_type", typ: "kill_process", params: `{"pid": "12", "start_time": 5}`, wantErr: "cannot unmarshal string"},
		{name: "unknown_type", typ: "run_command", params: `{"cmd": "id"}`, wantIs: ErrUnknownType, wantErr: `unknown task type "run_command"`},
		{name: "empty_type", typ: "", params: `{}`, wantIs: ErrUnknownType},
		{name: "vuln_scan_severities", typ: "vuln_scan", params: `{"severities": ["HIGH", "critical"]}`, want: `{"severities":["high","critical"]}`},
		{name: "vuln_scan_bad_severity", typ: "vuln_scan", params: `{"severities": ["urgent"]}`, wantErr: "severities"},
		{name: "malware_ok", typ: "malware_scan", params: `{"paths": ["/var/www", "/tmp"], "quarantine": true}`, want: `{"paths":["/var/www","/tmp"],"quarantine":true}`},
		{name: "malware_root_ok", typ: "malware_scan", params: `{"paths": ["/"]}`, want: `{"paths":["/"]}`},
		{name: "malware_no_paths", typ: "malware_scan", params: `{}`, wantErr: "at least one path"},
		{name: "malware_relative", typ: "malware_scan", params: `{"paths": ["var/www"]}`, wantErr: "want an absolute path"},
		{name: "malware_unclean", typ: "malware_scan", params: `{"paths": ["/var/www/../../etc"]}`, wantErr: "not clean"},
		{name: "malware_trailing_slash", typ: "malware_scan", params: `{"paths": ["/var/www/"]}`, wantErr: "not clean"},
		{name: "malware_glob", typ: "malware_scan", params: `{"paths": ["/home/*/www"]}`, wantErr: "glob characters"},
		{name: "malware_nul", typ: "malware_scan", params: `{"paths": ["/tmp/a\u0000b"]}`, wantErr: "control character"},
		{name: "malware_negative_rate", typ: "malware_scan", params: `{"paths": ["/tmp"], "rate": -1}`, wantErr: "rate -1"},
		{name: "fix_ok", typ: "fix_packages", params: `{"findings": ["DEBIAN-CVE-2023-4911/Debian:12/libc6", "GO-2023-2102/Go/golang.org/x/net"]}`,
			want: `{"findings":["DEBIAN-CVE-2023-4911/Debian:12/libc6","GO-2023-2102/Go/golang.org/x/net"]}`},
		{name: "fix_none", typ: "fix_packages", params: `{"findings": []}`, wantErr: "at least one finding"},
		{name: "fix_option_injection", typ: "fix_packages", params: `{"findings": ["DSA-1/Debian:12/--allow-unauthenticated x"]}`, wantErr: "want <OSV ID>/<ecosystem>/<package>"},
		{name: "fix_no_slash", typ: "fix_packages", params: `{"findings": ["libc6"]}`, wantErr: "want <OSV ID>"},
		{name: "rollback_ok", typ: "rollback_packages", params: `{"record": "20250801T120000Z-1a2b3c4d"}`, want: `{"record":"20250801T120000Z-1a2b3c4d"}`},
		{name: "rollback_suffix", typ: "rollback_packages", params: `{"record": "20250801T120000Z-1a2b3c4d-2"}`, want: `{"record":"20250801T120000Z-1a2b3c4d-2"}`},
		{name: "rollback_traversal", typ: "rollback_packages", params: `{"record": "../../etc/shadow"}`, wantErr: "want a fix record ID"},
		{name: "kill_ok", typ: "kill_process", params: `{"pid": 4242, "start_time": 123456, "exe": "/usr/bin/sleep", "tree": true}`,
			want: `{"pid":4242,"start_time":123456,"exe":"/usr/bin/sleep","tree":true}`},
		{name: "kill_no_start", typ: "kill_process", params: `{"pid": 4242}`, wantErr: "start_time: required"},
		{name: "kill_init", typ: "kill_process", params: `{"pid": 1, "start_time": 1}`, wantErr: "pid 1"},
		{name: "kill_negative", typ: "kill_process", params: `{"pid": -5, "start_time": 1}`, wantErr: "pid -5"},
		{name: "kill_bad_boot", typ: "kill_process", params: `{"pid": 5, "start_time": 1, "boot_id": "xyz"}`, wantErr: "boot_id"},
		{name: "kill_relative_exe", typ: "kill_process", params: `{"pid": 5, "start_time": 1, "exe": "sleep"}`, wantErr: "exe"},
		{name: "quarantine_ok", typ: "quarantine_file", params: `{"path": "/var/www/shell.php", "alert_id": "a1"}`, want: `{"path":"/var/www/shell.php","alert_id":"a1"}`},
		{name: "quarantine_root", typ: "quarantine_file", params: `{"path": "/"}`, wantErr: "not the root"},
		{name: "quarantine_missing", typ: "quarantine_file", params: `{}`, wantErr: "empty path"},
		{name: "restore_ok", typ: "restore_file", params: `{"id": "0123456789abcdef0123456789abcdef", "force": true}`, want: `{"id":"0123456789abcdef0123456789abcdef","force":true}`},
		{name: "restore_upper", typ: "restore_file", params: `{"id": "0123456789ABCDEF0123456789ABCDEF"}`, wantErr: "32 lowercase hex"},
		{name: "restore_traversal", typ: "restore_file", params: `{"id": "../x"}`, wantErr: "quarantine ID"},
		{name: "block_ok", typ: "block_ip", params: `{"ip": "203.0.113.9", "duration_seconds": 3600}`, want: `{"ip":"203.0.113.9","duration_seconds":3600}`},
		{name: "block_mapped", typ: "block_ip", params: `{"ip": "::ffff:203.0.113.9"}`, want: `{"ip":"203.0.113.9"}`},
		{name: "block_v6", typ: "block_ip", params: `{"ip": "2001:DB8::1"}`, want: `{"ip":"2001:db8::1"}`},
		{name: "block_cidr", typ: "block_ip", params: `{"ip": "203.0.113.0/24"}`, wantErr: `ip "203.0.113.0/24"`},
		{name: "block_zone", typ: "block_ip", params: `{"ip": "fe80::1%eth0"}`, wantErr: "zones"},
		{name: "block_loopback", typ: "block_ip", params: `{"ip": "127.0.0.1"}`, wantErr: "refusing"},
		{name: "block_v6_loopback", typ: "block_ip", params: `{"ip": "::1"}`, wantErr: "refusing"},
		{name: "block_unspecified", typ: "block_ip", params: `{"ip": "0.0.0.0"}`, wantErr: "refusing"},
		{name: "block_too_long", typ: "block_ip", params: `{"ip": "203.0.113.9", "duration_seconds": 99999999}`, wantErr: "duration_seconds"},
		{name: "block_negative", typ: "block_ip", params: `{"ip": "203.0.113.9", "duration_seconds": -1}`, wantErr: "duration_seconds"},
		{name: "unblock_ok", typ: "unblock_ip", params: `{"ip": "2001:db8::0001"}`, want: `{"ip":"2001:db8::1"}`},
		{name: "unblock_hostname", typ: "unblock_ip", params: `{"ip": "example.com"}`, wantErr: `ip "example.com"`},
		{name: "too_large", typ: "collect", params: `{"collectors": ["` + strings.Repeat("x", MaxParamsSize) + `"]}`, wantErr: "more than"},
		{name: "bad_utf8", typ: "quarantine_file", params: "{\"path\": \"/tmp/\xff\"}", wantErr: "invalid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, canon, err := ParseParams(tc.typ, json.RawMessage(tc.params))
			if tc.wantErr != "" || tc.wantIs != nil {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseParams: error %v, want one containing %q", err, tc.wantErr)
				}
				is := tc.wantIs
				if is == nil {
					is = ErrInvalidParams
				}
				if !errors.Is(err, is) {
					t.Fatalf("ParseParams: error %v, want one wrapping %v", err, is)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseParams: %v", err)
			}
			if string(canon) != tc.want {
				t.Errorf("canonical %s, want %s", canon, tc.want)
			}
			if string(p.Type()) != tc.typ {
				t.Errorf("Type() = %q, want %q", p.Type(), tc.typ)
			}
			// The canonical form parses to itself.
			_, again, err := ParseParams(tc.typ, canon)
			if err != nil || string(again) != string(canon) {
				t.Errorf("reparse canonical: %s, %v", again, err)
			}
		})
	}
}

// Every type has a params struct, and no type runs a command.
func TestTypesClosed(t *testing.T) {
	for _, typ := range Types {
		p, err := newParams(typ)
		if err != nil || p.Type() != typ {
			t.Errorf("newParams(%q) = %v, %v", typ, p, err)
		}
		for _, bad := range []string{"command", "cmd", "exec", "shell", "script", "args"} {
			if strings.Contains(string(typ), bad) {
				t.Errorf("type %q looks like a command runner", typ)
			}
		}
	}
}

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// signedTask makes a task signed by s, as the centre creates it.
func signedTask(t testing.TB, s *Signer, typ, params string) store.Task {
	t.Helper()
	_, canon, err := ParseParams(typ, json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	tk := store.Task{ID: 7, Type: typ, Params: canon, Targets: store.Targets{Hosts: []string{"host-a"}}, CreatedBy: "alice", CreatedAt: t0}
	tk.Signature, err = s.SignTask(tk)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestSignVerify(t *testing.T) {
	key := newKey(t)
	s, err := NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return t0 }
	tk := signedTask(t, s, "block_ip", `{"ip": "203.0.113.9", "duration_seconds": 60}`)
	run := store.TaskRun{ID: 42, TaskID: 7, HostID: "host-a"}
	payload, sig, err := s.SignRun(context.Background(), tk, run)
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		t.Fatal(err)
	}
	other := newKey(t)
	// resign re-encodes a modified envelope and signs it with key: a
	// payload the server could have produced, to test the checks after
	// the signature.
	resign := func(mod func(e *Envelope), k ed25519.PrivateKey) ([]byte, []byte) {
		e := env
		mod(&e)
		b, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		return b, SignPayload(k, b)
	}
	tests := []struct {
		name    string
		payload []byte
		sig     []byte
		host    string
		now     time.Time
		wantIs  error
		wantErr string
	}{
		{name: "valid", payload: payload, sig: sig},
		{name: "tampered_payload", payload: []byte(strings.Replace(string(payload), "203.0.113.9", "203.0.113.1", 1)), sig: sig, wantIs: ErrBadSignature},
		{name: "tampered_sig", payload: payload, sig: append([]byte{sig[0] ^ 1}, sig[1:]...), wantIs: ErrBadSignature},
		{name: "short_sig", payload: payload, sig: sig[:10], wantIs: ErrBadSignature},
		{name: "no_sig", payload: payload, wantIs: ErrBadSignature},
		{name: "wrong_key", payload: payload, sig: ed25519.Sign(other, append([]byte(runContext), payload...)), wantIs: ErrBadSignature},
		{name: "no_context", payload: payload, sig: ed25519.Sign(key, payload), wantIs: ErrBadSignature},
		{name: "task_signature_as_run", payload: payload, sig: tk.Signature, wantIs: ErrBadSignature},
		{name: "wrong_host", payload: payload, sig: sig, host: "host-b", wantIs: ErrWrongHost},
		{name: "expired", payload: payload, sig: sig, now: t0.Add(DefaultValidity), wantIs: ErrExpired},
		{name: "from_the_future", payload: payload, sig: sig, now: t0.Add(-MaxClockSkew - time.Second), wantIs: ErrExpired},
		{name: "slight_skew_ok", payload: payload, sig: sig, now: t0.Add(-MaxClockSkew + time.Second)},
		{name: "unknown_type", wantIs: ErrUnknownType},
		{name: "bad_params", wantIs: ErrInvalidParams, wantErr: "refusing"},
		{name: "unknown_field", wantIs: ErrMalformed, wantErr: `unknown field "command"`},
		{name: "not_canonical", wantIs: ErrMalformed, wantErr: "canonical"},
		{name: "too_long_validity", wantIs: ErrMalformed, wantErr: "valid for"},
		{name: "bad_version", wantIs: ErrMalformed, wantErr: "version 2"},
		{name: "bad_nonce", wantIs: ErrMalformed, wantErr: "nonce"},
		{name: "not_json", payload: []byte("{"), wantIs: ErrMalformed},
	}
	for i := range tests {
		tc := &tests[i]
		switch tc.name {
		case "unknown_type":
			tc.payload, tc.sig = resign(func(e *Envelope) { e.Type, e.Params = "run_command", json.RawMessage(`{"cmd":"id"}`) }, key)
		case "bad_params":
			tc.payload, tc.sig = resign(func(e *Envelope) { e.Params = json.RawMessage(`{"ip":"127.0.0.1"}`) }, key)
		case "unknown_field":
			b := strings.Replace(string(payload), `"v":1,`, `"v":1,"command":"id",`, 1)
			tc.payload, tc.sig = []byte(b), SignPayload(key, []byte(b))
		case "not_canonical":
			b := strings.Replace(string(payload), `"v":1,`, `"v": 1,`, 1)
			tc.payload, tc.sig = []byte(b), SignPayload(key, []byte(b))
		case "too_long_validity":
			tc.payload, tc.sig = resign(func(e *Envelope) { e.ExpiresAt = e.IssuedAt.Add(MaxValidity + time.Second) }, key)
		case "bad_version":
			tc.payload, tc.sig = resign(func(e *Envelope) { e.V = 2 }, key)
		case "bad_nonce":
			tc.payload, tc.sig = resign(func(e *Envelope) { e.Nonce = "00" }, key)
		case "not_json":
			tc.sig = SignPayload(key, tc.payload)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := tc.host
			if host == "" {
				host = "host-a"
			}
			now := tc.now
			if now.IsZero() {
				now = t0.Add(time.Minute)
			}
			v := &Verifier{Key: s.PublicKey(), HostID: host, Now: func() time.Time { return now }}
			e, p, err := v.Verify(tc.payload, tc.sig)
			if tc.wantIs != nil {
				if !errors.Is(err, tc.wantIs) || !strings.Contains(errString(err), tc.wantErr) {
					t.Fatalf("Verify: error %v, want one wrapping %v containing %q", err, tc.wantIs, tc.wantErr)
				}
				if e != nil || p != nil {
					t.Errorf("Verify returned an envelope with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := &BlockIPParams{IP: "203.0.113.9", DurationSeconds: 60}
			if diff := cmp.Diff(want, p); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
			if e.RunID != 42 || e.TaskID != 7 || e.HostID != "host-a" || e.Type != BlockIP || !e.IssuedAt.Equal(t0) || !e.ExpiresAt.Equal(t0.Add(DefaultValidity)) {
				t.Errorf("envelope %+v", e)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestSignRunChecks(t *testing.T) {
	s, err := NewSigner(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tk := signedTask(t, s, "kill_process", `{"pid": 100, "start_time": 5}`)
	// Two runs of one task differ in their nonce.
	p1, _, err := s.SignRun(ctx, tk, store.TaskRun{ID: 1, TaskID: 7, HostID: "host-a"})
	if err != nil {
		t.Fatal(err)
	}
	p2, _, err := s.SignRun(ctx, tk, store.TaskRun{ID: 1, TaskID: 7, HostID: "host-a"})
	if err != nil {
		t.Fatal(err)
	}
	var e1, e2 Envelope
	json.Unmarshal(p1, &e1)
	json.Unmarshal(p2, &e2)
	if e1.Nonce == e2.Nonce {
		t.Errorf("two signatures share nonce %s", e1.Nonce)
	}

	unsigned := tk
	unsigned.Signature = nil
	forged := tk
	forged.Params = json.RawMessage(`{"pid":101,"start_time":5}`)
	other, _ := NewSigner(newKey(t))
	foreign := signedTask(t, other, "kill_process", `{"pid": 100, "start_time": 5}`)
	badType := tk
	badType.Type = "run_command"
	tests := []struct {
		name    string
		task    store.Task
		run     store.TaskRun
		wantErr string
	}{
		{name: "unsigned_task", task: unsigned, run: store.TaskRun{ID: 1, TaskID: 7, HostID: "h"}, wantErr: "not signed by this server"},
		{name: "params_changed_in_store", task: forged, run: store.TaskRun{ID: 1, TaskID: 7, HostID: "h"}, wantErr: "not signed by this server"},
		{name: "other_servers_task", task: foreign, run: store.TaskRun{ID: 1, TaskID: 7, HostID: "h"}, wantErr: "not signed by this server"},
		{name: "unknown_type", task: badType, run: store.TaskRun{ID: 1, TaskID: 7, HostID: "h"}, wantErr: "unknown task type"},
		{name: "run_of_other_task", task: tk, run: store.TaskRun{ID: 1, TaskID: 8, HostID: "h"}, wantErr: "belongs to task 8"},
		{name: "no_host", task: tk, run: store.TaskRun{ID: 1, TaskID: 7}, wantErr: "host_id"},
		{name: "no_run_id", task: tk, run: store.TaskRun{TaskID: 7, HostID: "h"}, wantErr: "run_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.SignRun(ctx, tc.task, tc.run)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("SignRun: error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestLoadOrCreateSigner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s1, err := LoadOrCreateSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	s2, err := LoadOrCreateSigner(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !s1.PublicKey().Equal(s2.PublicKey()) {
		t.Error("second load made a new key")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("data dir holds %d entries, want only the key", len(ents))
	}
	// The public key round-trips through PEM, hex and base64.
	for _, enc := range [][]byte{s1.PublicKeyPEM(), []byte(hexOf(s1.PublicKey())), []byte(b64Of(s1.PublicKey()))} {
		k, err := ParsePublicKey(enc)
		if err != nil || !k.Equal(s1.PublicKey()) {
			t.Errorf("ParsePublicKey(%q) = %x, %v", enc, k, err)
		}
	}
	if _, err := ParsePublicKey([]byte("nonsense")); err == nil {
		t.Error("ParsePublicKey accepted nonsense")
	}

	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigner(dir); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("load of a 0644 key: error %v, want refused", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, KeyFile), 0o600)
	if _, err := LoadOrCreateSigner(dir); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Errorf("load of garbage: error %v, want a PEM error", err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func b64Of(b []byte) string {
	s, _ := json.Marshal(b) // encoding/json encodes []byte as standard base64
	return strings.Trim(string(s), `"`)
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{in: `{"a":[{"b":1},{"b":2}],"c":{"b":3}}`},
		{in: `{"a":{"b":1,"c":{"b":2}},"b":4}`},
		{in: `{"a":1,"b":{"a":2},"a":3}`, wantErr: `duplicate key "a"`},
		{in: `{"a":[1,{"x":1,"x":2}]}`, wantErr: `duplicate key "x"`},
		{in: `{"a":"a","a":"a"}`, wantErr: `duplicate key "a"`},
		{in: `{"a":1}x`, wantErr: "invalid character"},
		{in: `{"a":1} {"a":1}`, wantErr: "trailing data"},
	}
	for _, tc := range tests {
		var v any
		err := DecodeStrict([]byte(tc.in), &v)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("DecodeStrict(%s): error %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}
