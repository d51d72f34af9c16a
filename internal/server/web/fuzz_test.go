package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/store/sqlite"
	"github.com/vigilsec/vigil/internal/severity"
)

var filterSeeds = []string{
	"",
	"host=h1&severity=high&status=open&rule=r&tactic=TA0002&since=2026-01-01T00:00:00Z&until=2026-12-01T00:00:00Z&q=shell&limit=10",
	"cursor=YWxlcnRzOjE3MDAwMDAwMDA6YQ&limit=1000",
	"severity=CRITICAL&status=false_positive",
	"q=%00&label=%ff",
	"since=2026-02-30T00:00:00Z",
	"limit=-1&offset=99999999999",
	"sort=last_seen&revoked=true&q=web&group=prod",
	"min_severity=medium&q=CVE-2024&group=a",
	"actor=admin&action=alert.update&object=alert:a1",
	"q=" + strings.Repeat("x", 300),
}

// FuzzFilters checks the query parsers: they never panic, and whatever
// they accept is within bounds and valid text.
func FuzzFilters(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		texts := func(ss ...string) {
			for _, s := range ss {
				if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || len(s) > maxParamLen {
					t.Fatalf("accepted bad text %q from %q", s, raw)
				}
			}
		}
		page := func(p store.Page) {
			if p.Limit < 1 || p.Limit > maxPageLimit || p.Offset < 0 || len(p.Cursor) > maxCursorLen {
				t.Fatalf("page %+v from %q", p, raw)
			}
		}
		if af, err := parseAlertFilter(q); err == nil {
			texts(af.HostID, af.RuleID, af.Tactic, af.Text, string(af.Status))
			page(af.Page)
			if af.Status != "" && !af.Status.Valid() || af.Severity < severity.Unspecified || af.Severity > severity.Critical {
				t.Fatalf("alert filter %+v", af)
			}
		} else if code, _ := (&server{}).statusOf(err); code != http.StatusBadRequest {
			t.Fatalf("error %v maps to %d", err, code)
		}
		if hf, err := parseHostFilter(q); err == nil {
			texts(hf.Name, hf.Label, hf.Group)
			page(hf.Page)
		}
		if vf, err := parseVulnFilter(q); err == nil {
			texts(vf.Text, vf.Group)
			if vf.Limit < 1 || vf.Limit > maxPageLimit {
				t.Fatalf("vuln filter %+v", vf)
			}
		}
		if of, err := parseAuditFilter(q); err == nil {
			texts(of.Actor, of.Action, of.Object)
			page(of.Page)
		}
	})
}

// FuzzListQueries sends fuzzed queries (filters and cursors) through the
// handler to a real store: the answer is 200 or 400, never a server error.
func FuzzListQueries(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add("/api/v1/alerts", s)
		f.Add("/api/v1/hosts", s)
	}
	f.Add("/api/v1/audit", "cursor=YXVkaXQ6MTox")
	f.Add("/api/v1/vulns", "min_severity=high&offset=3")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, f.TempDir()+"/vigil.db")
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	must(f, st.CreateUser(ctx, store.User{Username: "u", PasswordHash: "x", Role: store.RoleReadOnly, CreatedAt: t0}))
	must(f, st.CreateAPIToken(ctx, store.APIToken{Hash: hashToken("tok"), Username: "u", Name: "fuzz", CreatedAt: t0}))
	must(f, st.UpsertHost(ctx, store.Host{ID: "h1", Hostname: "web-1", LastSeen: t0}))
	if _, err := st.IngestAlerts(ctx, "h1", nil); err != nil {
		f.Fatal(err)
	}
	h, err := New(Options{Store: st})
	if err != nil {
		f.Fatal(err)
	}
	paths := map[string]bool{"/api/v1/alerts": true, "/api/v1/hosts": true, "/api/v1/audit": true, "/api/v1/vulns": true}
	f.Fuzz(func(t *testing.T, path, raw string) {
		if !paths[path] {
			return
		}
		// A client can send any bytes in the query; set it past the URL parser.
		req := httptest.NewRequest("GET", path, nil)
		req.URL.RawQuery = raw
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != 400 {
			t.Fatalf("GET %s?%s: %d %s", path, raw, rec.Code, rec.Body)
		}
	})
}
