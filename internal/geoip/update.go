package geoip

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// The database files in the data directory.
const (
	CityFile = "geoip-city.mmdb"
	ASNFile  = "geoip-asn.mmdb"
)

// DefaultCityURL is the free DB-IP "IP to City Lite" database of the
// month of t (CC BY 4.0, attribution: "IP Geolocation by DB-IP").
func DefaultCityURL(t time.Time) string {
	return fmt.Sprintf("https://download.db-ip.com/free/dbip-city-lite-%s.mmdb.gz", t.UTC().Format("2006-01"))
}

// maxDownload bounds a downloaded database, compressed or not.
const maxDownload = 1 << 30

// Info describes an installed database.
type Info struct {
	Path      string    `json:"path"`
	URL       string    `json:"url"`
	Type      string    `json:"database_type"`
	BuildTime time.Time `json:"build_time"`
	Nodes     uint      `json:"nodes"`
	Size      int64     `json:"size"`
}

// ErrNotFound is returned by Download when the server answers 404, so a
// caller can try last month's file.
var ErrNotFound = errors.New("not found")

// Download fetches the database at url (plain or gzip-compressed, told by
// its content), verifies it opens as a MaxMind-format database with sane
// metadata and answers a lookup, and installs it at dst atomically: a
// temporary file in dst's directory renamed over dst. A failed download
// leaves an existing dst untouched. A 404 wraps ErrNotFound.
func Download(ctx context.Context, client *http.Client, url, dst string) (Info, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Info{}, fmt.Errorf("geoip: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Info{}, fmt.Errorf("geoip: download: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return Info{}, fmt.Errorf("geoip: %s: %w", url, ErrNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return Info{}, fmt.Errorf("geoip: %s: HTTP %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Info{}, fmt.Errorf("geoip: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".geoip-*")
	if err != nil {
		return Info{}, fmt.Errorf("geoip: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	n, err := copyMaybeGzip(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Info{}, fmt.Errorf("geoip: %s: %w", url, err)
	}
	info, err := verify(tmp)
	if err != nil {
		return Info{}, fmt.Errorf("geoip: %s: %w", url, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return Info{}, fmt.Errorf("geoip: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Info{}, fmt.Errorf("geoip: %w", err)
	}
	info.Path, info.URL, info.Size = dst, url, n
	return info, nil
}

// copyMaybeGzip copies r to w, decompressing it when it starts with the
// gzip magic, and fails beyond maxDownload bytes.
func copyMaybeGzip(w io.Writer, r io.Reader) (int64, error) {
	br := io.LimitReader(r, maxDownload+1)
	head := make([]byte, 2)
	k, err := io.ReadFull(br, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("empty download")
		}
		return 0, err
	}
	src := io.MultiReader(bytes.NewReader(head[:k]), br)
	if k == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(src)
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		src = io.LimitReader(zr, maxDownload+1)
	}
	n, err := io.Copy(w, src)
	if err != nil {
		return n, err
	}
	if n > maxDownload {
		return n, fmt.Errorf("larger than %d bytes", maxDownload)
	}
	return n, nil
}

// verify opens the database at path and checks it answers a lookup.
func verify(path string) (info Info, err error) {
	r, err := openChecked(path, nil)
	if err != nil {
		return Info{}, err
	}
	defer r.Close()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt database: %v", p)
		}
	}()
	var probe map[string]any
	if err := r.Lookup(probeAddr).Decode(&probe); err != nil {
		return Info{}, fmt.Errorf("test lookup: %w", err)
	}
	return Info{Type: r.Metadata.DatabaseType, BuildTime: r.Metadata.BuildTime().UTC(), Nodes: r.Metadata.NodeCount}, nil
}

// probeAddr is looked up to check a database: any public address works.
var probeAddr = mustAddr("1.1.1.1")

// Stat describes the database at path without downloading anything.
func Stat(path string) (Info, error) {
	info, err := verify(path)
	if err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("geoip: %w", err)
	}
	info.Path, info.Size = path, fi.Size()
	return info, nil
}
