package ocsf

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/finding"
)

// FuzzAlert maps arbitrary alert JSON: the mapper must not panic, and what
// it returns must be a JSON Detection Finding that names the alert.
func FuzzAlert(f *testing.F) {
	for _, a := range []*alert.Alert{reverseShellAlert(), bruteForceAlert(), minimalAlert()} {
		b, err := json.Marshal(a)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id":"x","process":{"ancestors":[{},{},{}]},"evidence":{"src_ip":"1.2.3.4","src_port":1e300,"path":""}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var a alert.Alert
		if err := json.Unmarshal(data, &a); err != nil {
			return
		}
		out, err := Alert(&a, opts)
		if err != nil {
			if a.ID != "" {
				t.Fatalf("map alert %q: %v", a.ID, err)
			}
			return
		}
		var e struct {
			ClassUID    int `json:"class_uid"`
			SeverityID  int `json:"severity_id"`
			FindingInfo struct {
				UID string `json:"uid"`
			} `json:"finding_info"`
		}
		if err := json.Unmarshal(out, &e); err != nil {
			t.Fatalf("output is not JSON: %v", err)
		}
		if e.ClassUID != ClassDetectionFinding || e.FindingInfo.UID != a.ID || e.SeverityID < 0 || e.SeverityID > 5 {
			t.Fatalf("bad event: %+v for alert id %q", e, a.ID)
		}
	})
}

// FuzzFinding maps arbitrary finding JSON (the finding contract's JSON
// keys do not decode into the domain struct, so the fuzzer fills the
// struct's own field names).
func FuzzFinding(f *testing.F) {
	b, err := json.Marshal(glibcFinding())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"Advisory":{"ID":"GO-1","Aliases":["CVE-1","CVE-2"]},"Target":{"Package":{"locations":["a","a"]}},"EPSS":{"CVE":"CVE-1","Score":1e308}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var fi finding.Finding
		if err := json.Unmarshal(data, &fi); err != nil {
			return
		}
		out, err := Finding(&fi, time.Unix(0, 0), opts)
		if err != nil {
			if fi.Advisory.ID != "" {
				t.Fatalf("map finding %q: %v", fi.Advisory.ID, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatal("output is not JSON")
		}
	})
}
