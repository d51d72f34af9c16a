package task

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParseParams checks that any params either fail with a wrapped
// sentinel or give a canonical form that parses to itself.
func FuzzParseParams(f *testing.F) {
	seeds := []struct{ typ, params string }{
		{"collect", `{"collectors":["host"]}`},
		{"vuln_scan", `{"severities":["high"]}`},
		{"malware_scan", `{"paths":["/var/www"],"quarantine":true,"rate":1}`},
		{"fix_packages", `{"findings":["DSA-1/Debian:12/libc6"]}`},
		{"rollback_packages", `{"record":"20250801T120000Z-1a2b3c4d"}`},
		{"kill_process", `{"pid":5,"start_time":9,"exe":"/bin/x","boot_id":"0123456789abcdef0123456789abcdef"}`},
		{"quarantine_file", `{"path":"/tmp/x"}`},
		{"restore_file", `{"id":"0123456789abcdef0123456789abcdef"}`},
		{"block_ip", `{"ip":"::ffff:10.0.0.1","duration_seconds":5}`},
		{"unblock_ip", `{"ip":"10.0.0.1"}`},
		{"collect", `{"a":{"b":1,"b":2}}`},
		{"x", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.typ, []byte(s.params))
	}
	f.Fuzz(func(t *testing.T, typ string, params []byte) {
		p, canon, err := ParseParams(typ, params)
		if err != nil {
			if !errors.Is(err, ErrInvalidParams) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if string(p.Type()) != typ {
			t.Fatalf("type %q, want %q", p.Type(), typ)
		}
		_, again, err := ParseParams(typ, canon)
		if err != nil {
			t.Fatalf("canonical %s does not parse: %v", canon, err)
		}
		if !bytes.Equal(again, canon) {
			t.Fatalf("canonical form not stable: %s then %s", canon, again)
		}
	})
}

// FuzzParseEnvelope checks that a payload either fails with a wrapped
// sentinel or is exactly the canonical encoding of what it parsed to.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"v":1,"run_id":42,"task_id":7,"host_id":"host-a","type":"block_ip","params":{"ip":"203.0.113.9","duration_seconds":60},"issued_at":"2026-03-01T12:00:00Z","expires_at":"2026-03-01T13:00:00Z","nonce":"0123456789abcdef0123456789abcdef"}`))
	f.Add([]byte(`{"v":1,"run_id":1,"task_id":1,"host_id":"h","type":"collect","params":{},"issued_at":"2026-03-01T12:00:00.5Z","expires_at":"2026-03-01T13:00:00Z","nonce":"0123456789abcdef0123456789abcdef"}`))
	f.Add([]byte(`{"v":1,"v":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, p, err := ParseEnvelope(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalidParams) && !errors.Is(err, ErrUnknownType) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if p.Type() != e.Type {
			t.Fatalf("params of %q for envelope of %q", p.Type(), e.Type)
		}
		again, err := json.Marshal(e)
		if err != nil || !bytes.Equal(again, payload) {
			t.Fatalf("accepted a non-canonical payload:\n%s\nre-encoded:\n%s (%v)", payload, again, err)
		}
		enc, err := e.Encode()
		if err != nil || !bytes.Equal(enc, payload) {
			t.Fatalf("Encode of an accepted envelope: %s, %v", enc, err)
		}
	})
}
