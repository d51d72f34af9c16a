package geoip_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/geoip/geoiptest"
)

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDownload(t *testing.T) {
	city := geoiptest.City(t, geoiptest.Places)
	files := map[string][]byte{
		"/free/dbip-city-lite-2026-11.mmdb.gz": gz(t, city),
		"/plain.mmdb":                          city,
		"/garbage.mmdb.gz":                     gz(t, []byte("<html>maintenance</html>")),
		"/truncated.mmdb":                      city[:len(city)/2],
		"/badgzip.gz":                          {0x1f, 0x8b, 1, 2, 3},
		"/empty":                               {},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	dst := filepath.Join(t.TempDir(), "data", geoip.CityFile)
	ctx := context.Background()

	info, err := geoip.Download(ctx, srv.Client(), srv.URL+"/free/dbip-city-lite-2026-11.mmdb.gz", dst)
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != "GeoLite2-City" || info.Nodes == 0 || info.Size != int64(len(city)) || info.Path != dst {
		t.Errorf("info %+v", info)
	}
	db, err := geoip.Open(dst, "")
	if err != nil {
		t.Fatal(err)
	}
	if loc, _ := db.Lookup(netip.MustParseAddr("198.51.100.1")); loc.Country != "DE" {
		t.Errorf("installed database: %+v", loc)
	}
	db.Close()
	if _, err := geoip.Download(ctx, srv.Client(), srv.URL+"/plain.mmdb", dst); err != nil {
		t.Errorf("plain: %v", err)
	}
	for _, p := range []string{"/garbage.mmdb.gz", "/truncated.mmdb", "/badgzip.gz", "/empty", "/missing.mmdb.gz"} {
		_, err := geoip.Download(ctx, srv.Client(), srv.URL+p, dst)
		if err == nil {
			t.Errorf("%s: no error", p)
		}
		if p == "/missing.mmdb.gz" && !errors.Is(err, geoip.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", p, err)
		}
	}
	// The failures left the good database in place and no temporary files.
	if _, err := geoip.Stat(dst); err != nil {
		t.Errorf("database after failed downloads: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(dst))
	if len(ents) != 1 {
		t.Errorf("data dir holds %v", ents)
	}
}

func TestDefaultCityURL(t *testing.T) {
	got := geoip.DefaultCityURL(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	if got != "https://download.db-ip.com/free/dbip-city-lite-2026-11.mmdb.gz" || !strings.HasPrefix(got, "https://") {
		t.Errorf("got %s", got)
	}
}
