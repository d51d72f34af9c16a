package osv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// UpdateOptions configure Update.
type UpdateOptions struct {
	Options
	// BaseURL is where the OSV ecosystem exports live, laid out as the
	// OSV bucket is: <BaseURL>/<Ecosystem>/all.zip
	// (https://osv-vulnerabilities.storage.googleapis.com).
	BaseURL string
	// Ecosystems to download; empty means those already in the database
	// (none when BaseURL is empty: only the feeds below are updated).
	Ecosystems []string
	// KEVURL and EPSSURL, when set, are downloaded too (the CISA KEV JSON
	// feed; the EPSS CSV, plain or gzip).
	KEVURL, EPSSURL string
	// Client makes the requests (default: a client with Timeout).
	Client *http.Client
	// Timeout bounds each download (default 10 minutes).
	Timeout time.Duration
	// MaxDownload bounds each downloaded file (default 4 GiB).
	MaxDownload int64
}

// Update downloads the OSV exports of the ecosystems in use, and the KEV
// and EPSS feeds when configured, and replaces those parts of the
// database with them in one atomic swap. Each ecosystem is replaced
// whole by its export (only the export's entries for that ecosystem are
// kept; records cross-listed in other ecosystems come from their own
// exports). A download the server reports unchanged (304, against the
// ETag or Last-Modified of the previous one) keeps the stored data. Any
// failed download fails the update and leaves the database unchanged;
// malformed records are skipped and reported in a *plugin.PartialError
// returned with the report.
func Update(ctx context.Context, dataDir string, opts UpdateOptions) (*Report, error) {
	if opts.BaseURL == "" && len(opts.Ecosystems) > 0 {
		return nil, errors.New("update: no base URL")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	if opts.MaxDownload <= 0 {
		opts.MaxDownload = 4 << 30
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	t, err := begin(dataDir)
	if err != nil {
		return nil, err
	}
	defer t.Abort()
	ecos := opts.Ecosystems
	if len(ecos) == 0 && t.old != nil && opts.BaseURL != "" {
		ecos = t.old.Ecosystems()
	}
	if len(ecos) == 0 && opts.KEVURL == "" && opts.EPSSURL == "" {
		return nil, errors.New("update: no ecosystems given and none in the database")
	}
	im := newImporter(&opts.Options, t)
	var oldMeta meta
	if t.old != nil {
		oldMeta = t.old.meta
	}

	type zipSrc struct {
		eco, url string
		f        *os.File
		size     int64
	}
	var zips []zipSrc
	defer func() {
		for _, z := range zips {
			z.f.Close()
			os.Remove(z.f.Name())
		}
	}()
	for _, eco := range ecos {
		if strings.ContainsAny(eco, "/\\") || eco == "." || eco == ".." || eco == "" || BaseEcosystem(eco) != eco {
			return nil, fmt.Errorf("update: %q is not an ecosystem name", eco)
		}
		u := strings.TrimSuffix(opts.BaseURL, "/") + "/" + url.PathEscape(eco) + "/all.zip"
		var etag, lastMod string
		if st := oldMeta.Ecosystems[eco]; st != nil {
			etag, lastMod = st.ETag, st.LastModified
		}
		f, err := os.CreateTemp(dataDir, tmpPrefix+"download-")
		if err != nil {
			return nil, err
		}
		zips = append(zips, zipSrc{eco: eco, url: u, f: f})
		dl, err := download(ctx, &opts, u, etag, lastMod, f)
		if err != nil {
			return nil, err
		}
		if dl.notModified {
			im.report.NotModified = append(im.report.NotModified, u)
			zips = zips[:len(zips)-1]
			f.Close()
			os.Remove(f.Name())
			continue
		}
		zips[len(zips)-1].size = dl.size
		im.replace[eco] = &EcosystemStatus{ETag: dl.etag, LastModified: dl.lastModified}
	}
	if opts.KEVURL != "" {
		if err := im.downloadFeed(ctx, &opts, opts.KEVURL, oldMeta.KEV != nil, kevValidators(oldMeta.KEV), im.setKEV); err != nil {
			return nil, err
		}
	}
	if opts.EPSSURL != "" {
		if err := im.downloadFeed(ctx, &opts, opts.EPSSURL, oldMeta.EPSS != nil, epssValidators(oldMeta.EPSS), im.setEPSS); err != nil {
			return nil, err
		}
	}
	err = im.run(ctx, func(ctx context.Context, submit func(job) bool) error {
		for _, z := range zips {
			if err := im.addZip(ctx, z.f, z.size, z.eco+"/all.zip", z.url, z.eco, submit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return im.finish()
}

func kevValidators(s *KEVStatus) [2]string {
	if s == nil {
		return [2]string{}
	}
	return [2]string{s.ETag, s.LastModified}
}

func epssValidators(s *EPSSStatus) [2]string {
	if s == nil {
		return [2]string{}
	}
	return [2]string{s.ETag, s.LastModified}
}

// downloadFeed fetches a KEV or EPSS feed into memory-bounded parsing via
// a temporary file, and hands it to set.
func (im *importer) downloadFeed(ctx context.Context, opts *UpdateOptions, u string, have bool, v [2]string, set func(io.Reader, string, string, string) error) error {
	f, err := os.CreateTemp(im.t.dataDir, tmpPrefix+"download-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if !have {
		v = [2]string{}
	}
	dl, err := download(ctx, opts, u, v[0], v[1], f)
	if err != nil {
		return err
	}
	if dl.notModified {
		im.report.NotModified = append(im.report.NotModified, u)
		return nil
	}
	return set(io.NewSectionReader(f, 0, dl.size), u, dl.etag, dl.lastModified)
}

type downloaded struct {
	size               int64
	etag, lastModified string
	notModified        bool
}

// download GETs u into f, bounded by opts.MaxDownload and opts.Timeout.
func download(ctx context.Context, opts *UpdateOptions, u, etag, lastMod string, f *os.File) (downloaded, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return downloaded{}, fmt.Errorf("download %s: %w", u, err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastMod != "" {
		req.Header.Set("If-Modified-Since", lastMod)
	}
	resp, err := opts.Client.Do(req)
	if err != nil {
		return downloaded{}, fmt.Errorf("download %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && (etag != "" || lastMod != ""):
		return downloaded{notModified: true}, nil
	case resp.StatusCode != http.StatusOK:
		return downloaded{}, fmt.Errorf("download %s: %s", u, resp.Status)
	case resp.ContentLength > opts.MaxDownload:
		return downloaded{}, fmt.Errorf("download %s: %d bytes, more than the limit of %d", u, resp.ContentLength, opts.MaxDownload)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, opts.MaxDownload+1))
	if err != nil {
		return downloaded{}, fmt.Errorf("download %s: %w", u, err)
	}
	if n > opts.MaxDownload {
		return downloaded{}, fmt.Errorf("download %s: more than the limit of %d bytes", u, opts.MaxDownload)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return downloaded{}, fmt.Errorf("download %s: got %d of %d bytes", u, n, resp.ContentLength)
	}
	return downloaded{size: n, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}
