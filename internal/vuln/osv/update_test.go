package osv

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/plugin"
)

// feedServer serves files by URL path with an ETag (their content hash
// stand-in: a version counter) and honours If-None-Match, as the OSV
// bucket does. It records the requests it saw.
type feedServer struct {
	mu    sync.Mutex
	files map[string][]byte
	etags map[string]string
	seen  []string
}

func (s *feedServer) set(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = data
	s.etags[path] = fmt.Sprintf(`"v%d-%d"`, len(data), time.Now().UnixNano())
}

func (s *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.files[r.URL.Path]
	if !ok {
		s.seen = append(s.seen, r.URL.Path+" 404")
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("If-None-Match") == s.etags[r.URL.Path] {
		s.seen = append(s.seen, r.URL.Path+" 304")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.seen = append(s.seen, r.URL.Path+" 200")
	w.Header().Set("ETag", s.etags[r.URL.Path])
	w.Write(data)
}

func (s *feedServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.seen
	s.seen = nil
	return out
}

func newFeedServer(t *testing.T) (*feedServer, *httptest.Server) {
	fs := &feedServer{files: map[string][]byte{}, etags: map[string]string{}}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv
}

func readT(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUpdate(t *testing.T) {
	src := t.TempDir()
	fs, srv := newFeedServer(t)
	fs.set("/Go/all.zip", readT(t, goZip(t, src)))
	fs.set("/PyPI/all.zip", readT(t, writeZip(t, filepath.Join(src, "pypi.zip"), txtarFiles(t, "pypi-records.txtar"))))
	fs.set("/kev.json", readT(t, kevFixture))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(readT(t, epssFixture))
	zw.Close()
	fs.set("/epss_scores-current.csv.gz", gz.Bytes())

	dir := t.TempDir()
	opts := UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go", "PyPI"}, KEVURL: srv.URL + "/kev.json", EPSSURL: srv.URL + "/epss_scores-current.csv.gz"}

	rep, err := Update(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("first update: %v", err)
	}
	if rep.Records != 18 || rep.KEV != 8 || rep.EPSS != 8 || !cmp.Equal(rep.Ecosystems, []string{"Go", "PyPI"}) {
		t.Errorf("first update: %+v", rep)
	}
	want := []string{"/Go/all.zip 200", "/PyPI/all.zip 200", "/kev.json 200", "/epss_scores-current.csv.gz 200"}
	if diff := cmp.Diff(want, fs.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	// Nothing changed: every download is answered 304 and nothing is rewritten.
	opts.Ecosystems = nil // the ecosystems in the database
	rep, err = Update(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("second update: %v", err)
	}
	if len(rep.NotModified) != 4 || rep.Records != 0 {
		t.Errorf("second update: %+v, want all 4 sources not modified", rep)
	}
	want = []string{"/Go/all.zip 304", "/PyPI/all.zip 304", "/kev.json 304", "/epss_scores-current.csv.gz 304"}
	if diff := cmp.Diff(want, fs.requests()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}

	// The Go export changes: the ecosystem is replaced whole, so a record
	// dropped from the export disappears; PyPI, KEV and EPSS stay.
	files := txtarFiles(t, "go-records.txtar")
	fs.set("/Go/all.zip", readT(t, writeZip(t, filepath.Join(src, "go2.zip"), files[1:]))) // without GO-2021-0067
	if _, err := Update(context.Background(), dir, opts); err != nil {
		t.Fatalf("third update: %v", err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	vs, _ := db.Lookup("Go", "stdlib")
	if diff := cmp.Diff([]string{"GO-2022-0535", "GO-2022-0969", "GO-2023-2102", "GO-2024-2687"}, ids(vs)); diff != "" {
		t.Errorf("stdlib after the Go export changed (-want +got):\n%s", diff)
	}
	st := db.Status()
	if st.Ecosystems[0].Records != 10 || st.Ecosystems[0].Sources[0] != srv.URL+"/Go/all.zip" || st.Ecosystems[0].ETag == "" ||
		st.Ecosystems[1].Records != 7 || st.KEV.Entries != 8 || st.EPSS.Rows != 8 {
		t.Errorf("status after the third update: %+v KEV %+v EPSS %+v", st.Ecosystems, st.KEV, st.EPSS)
	}
}

func TestUpdateFailures(t *testing.T) {
	src := t.TempDir()
	fs, srv := newFeedServer(t)
	fs.set("/Go/all.zip", readT(t, goZip(t, src)))
	fs.set("/kev.json", []byte(`{"not": "kev"}`))
	dir := t.TempDir()
	if _, err := Update(context.Background(), dir, UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go"}}); err != nil {
		t.Fatal(err)
	}
	before := statusOf(t, dir)
	for _, tc := range []struct {
		name string
		opts UpdateOptions
		want string
	}{
		{"missing_export", UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go", "npm"}}, "/npm/all.zip: 404 Not Found"},
		{"too_large", UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go"}, MaxDownload: 1000}, "more than the limit of 1000"},
		{"bad_kev", UpdateOptions{KEVURL: srv.URL + "/kev.json"}, `not a KEV catalogue`},
		{"bad_ecosystem", UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"../etc"}}, `"../etc" is not an ecosystem name`},
		{"release_suffix", UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Debian:12"}}, `"Debian:12" is not an ecosystem name`},
		{"unreachable", UpdateOptions{BaseURL: "http://127.0.0.1:1", Ecosystems: []string{"Go"}, Timeout: 5 * time.Second}, "connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs.set("/Go/all.zip", readT(t, goZip(t, t.TempDir()))) // new ETag: a real download
			_, err := Update(context.Background(), dir, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Update error = %v, want %q", err, tc.want)
			}
			if got := statusOf(t, dir); got != before {
				t.Errorf("a failed update changed the database:\nbefore %s\nafter  %s", before, got)
			}
		})
	}
	if gens := generations(t, dir); len(gens) != 1 {
		t.Errorf("failed updates left %v", gens)
	}
}

// TestUpdateCorpus serves the real shared exports and KEV catalogue from a
// local server.
func TestUpdateCorpus(t *testing.T) {
	goZip := requireShared(t, "osv/Go/all.zip")
	kevFile := requireShared(t, "kev/known_exploited_vulnerabilities.json")
	pypi := requireShared(t, "osv/PyPI/pypa-advisories-yaml.zip")
	fs, srv := newFeedServer(t)
	fs.set("/Go/all.zip", readT(t, goZip))
	fs.set("/PyPI/all.zip", readT(t, pypi))
	fs.set("/kev.json", readT(t, kevFile))
	dir := t.TempDir()
	start := time.Now()
	rep, err := Update(context.Background(), dir, UpdateOptions{BaseURL: srv.URL, Ecosystems: []string{"Go", "PyPI"}, KEVURL: srv.URL + "/kev.json"})
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		t.Fatal(err)
	}
	t.Logf("update from a local server: %+v in %v (problems: %v)", rep, time.Since(start), err)
	if rep.Records != 4291+2661 || rep.KEV != 1404 {
		t.Errorf("records %d (want %d), KEV %d (want 1404)", rep.Records, 4291+2661, rep.KEV)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ids, _ := db.Aliases("CVE-2020-0601")
	if !cmp.Equal(ids, []string{"GO-2022-0535"}) {
		t.Errorf("Aliases(CVE-2020-0601) = %v", ids)
	}
	if e, ok, _ := db.KEV("CVE-2020-0601"); !ok || e.DateAdded.IsZero() {
		t.Errorf("KEV(CVE-2020-0601) = %+v %v", e, ok)
	}
}
