package image

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// DefaultDockerHost is the engine OpenDaemon talks to by default.
const DefaultDockerHost = "unix:///var/run/docker.sock"

// refPattern accepts image references (name[:tag][@digest]) and IDs, and
// nothing that could change the meaning of the request path.
var refPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,511}$`)

func validReference(ref string) bool {
	return refPattern.MatchString(ref) && !strings.Contains(ref, "..")
}

// OpenDaemon exports the image ref from the local Docker engine with
// `GET /images/{name}/get` (what `docker save` does) into a temporary file,
// removed by Close, and loads it as a docker save archive.
//
// The Engine API is spoken with net/http over the unix socket, as the
// containers collector does: go-containerregistry's daemon package would
// link the moby client and its OpenTelemetry instrumentation for this one
// call. The unversioned path lets the engine answer with its own API
// version.
func OpenDaemon(ctx context.Context, ref string, opts *Options) (*Image, error) {
	if opts == nil {
		opts = &Options{}
	}
	lim := opts.Limits.withDefaults()
	if !validReference(ref) {
		return nil, fmt.Errorf("image %q: not a valid image reference", ref)
	}
	host := opts.DockerHost
	if host == "" {
		host = DefaultDockerHost
	}
	sock, ok := strings.CutPrefix(host, "unix://")
	if !ok || sock == "" {
		return nil, fmt.Errorf("image %q: unsupported docker host %q: only unix sockets are supported", ref, host)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			return d.DialContext(ctx, "unix", sock)
		},
	}
	defer tr.CloseIdleConnections()
	u := &url.URL{Scheme: "http", Host: "docker", Path: "/images/" + ref + "/get"}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("image %q: docker engine at %s: %w", ref, sock, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("image %q: docker engine: %s: %s", ref, resp.Status, strings.TrimSpace(string(msg)))
	}

	f, err := os.CreateTemp(opts.TempDir, "vigil-image-*.tar")
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	remove := func() error {
		if err := os.Remove(f.Name()); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	// The export holds uncompressed layers plus metadata.
	maxExport := lim.MaxTotalBytes + 64*lim.MaxMetadataSize
	n, err := io.Copy(f, io.LimitReader(resp.Body, maxExport+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > maxExport {
		err = fmt.Errorf("export is more than %d bytes: %w", maxExport, ErrLimit)
	}
	if err != nil {
		remove()
		return nil, fmt.Errorf("image %q: export: %w", ref, err)
	}
	img, err := OpenArchive(f.Name(), opts)
	if err != nil {
		remove()
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	img.Name, img.Format = ref, FormatDockerDaemon
	img.cleanup = append(img.cleanup, remove)
	return img, nil
}
