package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/geoip/geoiptest"
)

// wtmpRecord is one struct utmp (384 bytes, x86-64 glibc layout).
func wtmpRecord(user, line, host string, addr [4]byte, at time.Time) []byte {
	b := make([]byte, 384)
	le := binary.LittleEndian
	le.PutUint16(b[0:], 7) // USER_PROCESS
	le.PutUint32(b[4:], 4242)
	copy(b[8:40], line)
	copy(b[44:76], user)
	copy(b[76:332], host)
	le.PutUint32(b[340:], uint32(at.Unix()))
	copy(b[348:], addr[:])
	return b
}

// authLogFixtures copies the fixtures into a temporary directory (auth.log
// with a modification time that anchors its year), writes a wtmp file
// and tiny GeoIP databases, and returns the directory.
func authLogFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range []string{"auth.log", "journal.json"} {
		copyFile(t, filepath.Join("testdata", "authlogs", n), filepath.Join(dir, n))
	}
	mt := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "auth.log"), mt, mt); err != nil {
		t.Fatal(err)
	}
	// alice from Sydney one hour after her last Berlin login.
	rec := wtmpRecord("alice", "pts/3", "203.0.113.77", [4]byte{203, 0, 113, 77}, time.Date(2026, 11, 19, 10, 0, 0, 0, time.UTC))
	if err := os.WriteFile(filepath.Join(dir, "wtmp"), rec, 0o644); err != nil {
		t.Fatal(err)
	}
	geoiptest.WriteFiles(t, dir, geoiptest.Places)
	return dir
}

type scanLogsOut struct {
	Events int `json:"events"`
	Alerts []struct {
		Time     time.Time           `json:"time"`
		Rule     struct{ ID string } `json:"rule"`
		Severity string              `json:"severity"`
		Attack   struct {
			Techniques []string `json:"techniques"`
		} `json:"attack"`
		Evidence map[string]any `json:"evidence"`
		Response struct {
			Action string `json:"action"`
			Result string `json:"result"`
		} `json:"response"`
	} `json:"alerts"`
	Files []scanLogsSource `json:"files"`
}

func TestScanLogs(t *testing.T) {
	dir := authLogFixtures(t)
	stdout, _ := mustVigil(t, "--data-dir", t.TempDir(), "--format", "json", "scan", "logs",
		"--geoip-db", filepath.Join(dir, "city.mmdb"), "--geoip-asn", filepath.Join(dir, "asn.mmdb"),
		filepath.Join(dir, "auth.log"), filepath.Join(dir, "journal.json"), filepath.Join(dir, "wtmp"))
	var got scanLogsOut
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	formats := []string{}
	records := 0
	for _, f := range got.Files {
		formats = append(formats, f.Format)
		records += f.Records
	}
	if !slices.Equal(formats, []string{"syslog", "journal", "wtmp"}) || got.Events != records || got.Files[1].Records != 5 || got.Files[2].Records != 1 {
		t.Errorf("files %+v, events %d", got.Files, got.Events)
	}
	type row struct{ rule, srcIP, user string }
	var rows []row
	for _, a := range got.Alerts {
		ip, _ := a.Evidence["src_ip"].(string)
		user, _ := a.Evidence["user"].(string)
		if by, ok := a.Evidence["by_user"].(string); ok {
			user = by // su/sudo: who tried
		}
		rows = append(rows, row{a.Rule.ID, ip, user})
		if len(a.Attack.Techniques) == 0 || a.Severity == "" {
			t.Errorf("%s: attack %v severity %q", a.Rule.ID, a.Attack, a.Severity)
		}
		if a.Response.Result == "ok" || a.Response.Result == "pending" {
			t.Errorf("%s: response %+v: scan logs must not act", a.Rule.ID, a.Response)
		}
	}
	want := []row{
		{"VGL-LOGIN-NEW-COUNTRY", "203.0.113.77", "alice"},
		{"VGL-LOGIN-IMPOSSIBLE-TRAVEL", "203.0.113.77", "alice"},
		{"VGL-AUTH-BRUTEFORCE", "203.0.113.50", "root"},
		{"VGL-AUTH-BRUTEFORCE-SUCCESS", "203.0.113.50", "root"},
		{"VGL-AUTH-SU-SUDO-BURST", "", "alice"},
	}
	if !slices.Equal(rows, want) {
		t.Errorf("alerts:\n got %v\nwant %v", rows, want)
	}
	if len(got.Alerts) == 5 {
		tr := got.Alerts[1].Evidence
		if tr["country"] != "AU" || tr["previous_country"] != "DE" || tr["asn"] != float64(64501) || tr["speed_kmh"] == nil {
			t.Errorf("travel evidence %v", tr)
		}
		bf := got.Alerts[2]
		if bf.Response.Action != "block_ip" || bf.Response.Result != "alert_only" || bf.Evidence["count"] != float64(10) {
			t.Errorf("brute force alert %+v", bf)
		}
		if !got.Alerts[2].Time.Equal(time.Date(2026, 11, 20, 10, 0, 19, 0, time.UTC)) {
			t.Errorf("brute force at %v: want the 10th failure's time", got.Alerts[2].Time)
		}
	}

	// The table names the same alerts.
	table, _ := mustVigil(t, "--data-dir", t.TempDir(), "scan", "logs", "--geoip-db", filepath.Join(dir, "city.mmdb"),
		filepath.Join(dir, "auth.log"), filepath.Join(dir, "journal.json"), filepath.Join(dir, "wtmp"))
	for _, w := range []string{"5 alerts from", "VGL-AUTH-BRUTEFORCE-SUCCESS", "VGL-LOGIN-IMPOSSIBLE-TRAVEL", "203.0.113.50", "syslog"} {
		if !strings.Contains(table, w) {
			t.Errorf("table lacks %q:\n%s", w, table)
		}
	}
}

// TestScanLogsOptions covers the data directory's GeoIP database, gzip
// input, a rule override and no GeoIP at all.
func TestScanLogsOptions(t *testing.T) {
	dir := authLogFixtures(t)
	data := t.TempDir()
	copyFile(t, filepath.Join(dir, "city.mmdb"), filepath.Join(data, geoip.CityFile))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	b, _ := os.ReadFile(filepath.Join(dir, "auth.log"))
	zw.Write(b)
	zw.Close()
	gzPath := filepath.Join(dir, "auth.log.2.gz")
	os.WriteFile(gzPath, gz.Bytes(), 0o644)
	os.Chtimes(gzPath, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	rulesDir := t.TempDir()
	os.WriteFile(filepath.Join(rulesDir, "mine.yaml"), []byte(`rules:
  - id: VGL-AUTH-BRUTEFORCE
    version: 2
    title: Password brute force from one address (site threshold)
    description: Keys on 50 failures from one address in 5 minutes.
    severity: high
    attack: {tactics: [TA0006], techniques: [T1110.001]}
    events: [auth]
    condition: auth.outcome == "failure" && auth.src_ip != ""
    aggregate: {window: 5m, group_by: auth.src_ip, threshold: 50, weight: auth.count}
    response: {action: block_ip}
`), 0o644)
	stdout, _ := mustVigil(t, "--data-dir", data, "--format", "json", "scan", "logs", "--rules", rulesDir,
		gzPath, filepath.Join(dir, "journal.json"), filepath.Join(dir, "wtmp"))
	var got scanLogsOut
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range got.Alerts {
		ids = append(ids, a.Rule.ID)
	}
	want := []string{"VGL-LOGIN-NEW-COUNTRY", "VGL-LOGIN-IMPOSSIBLE-TRAVEL", "VGL-AUTH-BRUTEFORCE-SUCCESS", "VGL-AUTH-SU-SUDO-BURST"}
	if !slices.Equal(ids, want) || got.Files[0].Format != "syslog" {
		t.Errorf("alerts %v, want %v; files %+v", ids, want, got.Files)
	}
	// Without any GeoIP database the location rules stay quiet.
	stdout, _ = mustVigil(t, "--data-dir", t.TempDir(), "--format", "json", "scan", "logs",
		filepath.Join(dir, "auth.log"), filepath.Join(dir, "journal.json"), filepath.Join(dir, "wtmp"))
	got = scanLogsOut{}
	json.Unmarshal([]byte(stdout), &got)
	ids = nil
	for _, a := range got.Alerts {
		ids = append(ids, a.Rule.ID)
	}
	if want := []string{"VGL-AUTH-BRUTEFORCE", "VGL-AUTH-BRUTEFORCE-SUCCESS", "VGL-AUTH-SU-SUDO-BURST"}; !slices.Equal(ids, want) {
		t.Errorf("without GeoIP: %v, want %v", ids, want)
	}
}

func TestScanLogsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte("{not json\n{\"also\": \"not an entry\"}\n"), 0o644)
	badDB := filepath.Join(dir, "bad.mmdb")
	os.WriteFile(badDB, []byte("nope"), 0o644)
	ok := filepath.Join("testdata", "authlogs", "auth.log")
	for name, args := range map[string][]string{
		"missing_file": {"scan", "logs", filepath.Join(dir, "none.log")},
		"directory":    {"scan", "logs", dir},
		"not_journal":  {"scan", "logs", bad},
		"bad_geoip":    {"scan", "logs", "--geoip-db", badDB, ok},
		"bad_rules":    {"scan", "logs", "--rules", filepath.Join(dir, "none"), ok},
		"sarif":        {"--format", "sarif", "scan", "logs", ok},
		"no_files":     {"scan", "logs"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := vigil(t, append([]string{"--data-dir", t.TempDir()}, args...)...); err == nil {
				t.Errorf("vigil %v: no error", args)
			}
		})
	}
}

// redirect sends every request to srv, whatever its host, so the default
// DB-IP URLs are exercised without leaving the machine.
type redirect struct{ srv *httptest.Server }

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	u, _ := url.Parse(r.srv.URL)
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	return r.srv.Client().Transport.RoundTrip(req)
}

func TestUpdateGeoIP(t *testing.T) {
	city := geoiptest.City(t, geoiptest.Places)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(city)
	zw.Close()
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Host+r.URL.Path)
		if r.URL.Path == "/free/dbip-city-lite-2026-10.mmdb.gz" || r.URL.Path == "/mirror/city.mmdb.gz" {
			w.Write(gz.Bytes())
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	client := &http.Client{Transport: redirect{srv}}
	data := t.TempDir()
	// November's file is not out yet on the 1st: October's is taken.
	info, err := updateGeoIP(context.Background(), client, data, "", time.Minute, time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"download.db-ip.com/free/dbip-city-lite-2026-11.mmdb.gz", "download.db-ip.com/free/dbip-city-lite-2026-10.mmdb.gz"}; !slices.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
	if info.Path != filepath.Join(data, geoip.CityFile) || info.Type != "GeoLite2-City" {
		t.Errorf("info %+v", info)
	}
	if _, err := updateGeoIP(context.Background(), srv.Client(), data, srv.URL+"/mirror/city.mmdb.gz", time.Minute, time.Now()); err != nil {
		t.Errorf("--geoip-url: %v", err)
	}
	if _, err := updateGeoIP(context.Background(), srv.Client(), data, srv.URL+"/nothing.mmdb", time.Minute, time.Now()); err == nil {
		t.Error("missing URL: no error")
	}
	// The scan uses the installed database from the data directory.
	dir := authLogFixtures(t)
	stdout, _ := mustVigil(t, "--data-dir", data, "--format", "json", "scan", "logs",
		filepath.Join(dir, "journal.json"), filepath.Join(dir, "wtmp"))
	if !strings.Contains(stdout, "VGL-LOGIN-IMPOSSIBLE-TRAVEL") {
		t.Errorf("scan with the installed database:\n%s", stdout)
	}
}
