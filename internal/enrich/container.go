package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilsec/vigil/internal/event"
)

// Container lookups. A container's details come first from the state
// files the engine keeps under its data root (config.v2.json and
// hostconfig.json, written when the container is created): reading them
// takes no engine lock, and the engine holds a container's lock while it
// starts it, so an inspect call made for the container's first exec
// waits for the start to finish — past the lookup timeout on a loaded
// host, leaving the container's first alerts with only its ID. The
// Engine API is asked when the files are not there (another data root,
// a remote or rootless engine): one call, inspect, as
// internal/collector/containers does (unversioned path, bounded body,
// the same field names); that package's engine type is unexported, and
// this one differs in what it must guarantee: a short timeout and a
// cache in front, because it serves the event pipeline.

const (
	// DefaultDockerSocket is where the Docker engine listens.
	DefaultDockerSocket = "/var/run/docker.sock"
	// DefaultDockerRoot is the Docker engine's data root.
	DefaultDockerRoot = "/var/lib/docker"
	// DefaultContainerTTL is how long a container's details are trusted.
	DefaultContainerTTL = 5 * time.Minute
	// DefaultContainerRetry is how long an unknown container (not found, or
	// the engine did not answer) stays ID-only before it is looked up again.
	DefaultContainerRetry = 10 * time.Second
	// DefaultLookupTimeout bounds one Engine API call.
	DefaultLookupTimeout = 3 * time.Second

	maxContainerCache = 4096
	maxInspectBody    = 4 << 20
	lookupQueue       = 64
)

// containerCache maps container IDs to their details. get never blocks on
// the engine: a miss returns an ID-only Container and queues a lookup for
// the background worker.
type containerCache struct {
	sock    string
	root    string // the engine's data root; "" reads no state files
	timeout time.Duration
	ttl     time.Duration
	retry   time.Duration
	now     func() time.Time
	client  *http.Client
	tr      *http.Transport

	mu    sync.Mutex
	cache map[string]*containerEntry
	queue chan string

	lookups, failures atomic.Uint64
}

type containerEntry struct {
	c       *event.Container // shared by every event: read-only
	expires time.Time
	pending bool // queued or being looked up
}

func newContainerCache(sock, root string, timeout, ttl, retry time.Duration, now func() time.Time) *containerCache {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns:       1,
		DisableCompression: true,
	}
	return &containerCache{
		sock: sock, root: root, timeout: timeout, ttl: ttl, retry: retry, now: now,
		client: &http.Client{Transport: tr},
		tr:     tr,
		cache:  make(map[string]*containerEntry),
		queue:  make(chan string, lookupQueue),
	}
}

// get returns what is known of container id: its details when a lookup
// succeeded within the TTL (or a stale copy while a new lookup runs), else
// a Container with only the ID. The result is shared and read-only.
func (c *containerCache) get(id string, now time.Time) *event.Container {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cache[id]
	if e == nil {
		if len(c.cache) >= maxContainerCache {
			c.shrink(now)
		}
		e = &containerEntry{c: &event.Container{ID: id}}
		c.cache[id] = e
	} else if now.Before(e.expires) || e.pending {
		return e.c
	}
	select {
	case c.queue <- id:
		e.pending = true
	default: // the worker is busy; a later event asks again
	}
	return e.c
}

// shrink drops expired entries, or any when none has expired. c.mu held.
func (c *containerCache) shrink(now time.Time) {
	for id, e := range c.cache {
		if !e.pending && !now.Before(e.expires) {
			delete(c.cache, id)
		}
	}
	for id, e := range c.cache {
		if len(c.cache) < maxContainerCache*3/4 {
			break
		}
		if !e.pending {
			delete(c.cache, id)
		}
	}
}

// run looks up queued IDs until ctx ends.
func (c *containerCache) run(ctx context.Context) {
	defer c.tr.CloseIdleConnections()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-c.queue:
			c.lookup(ctx, id)
		}
	}
}

func (c *containerCache) lookup(ctx context.Context, id string) {
	got, err := c.fromState(id)
	if err != nil {
		got, err = c.inspect(ctx, id)
	}
	now := c.now()
	defer c.lookups.Add(1) // counted once its result is visible
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cache[id]
	if e == nil {
		e = &containerEntry{}
		c.cache[id] = e
	}
	e.pending = false
	if err != nil {
		c.failures.Add(1)
		e.c = &event.Container{ID: id}
		e.expires = now.Add(c.retry)
		return
	}
	e.c = got
	e.expires = now.Add(c.ttl)
}

var errNoContainer = errors.New("no such container")

// fromState reads container id's details from the engine's state files.
func (c *containerCache) fromState(id string) (*event.Container, error) {
	if c.root == "" || !isContainerID(id) {
		return nil, errNoContainer
	}
	dir := filepath.Join(c.root, "containers", id)
	var cfg struct {
		Name   string
		Config struct {
			Image string
		}
		MountPoints map[string]struct {
			Source string
		}
	}
	var in inspectResponse
	if err := readStateFile(filepath.Join(dir, "config.v2.json"), &cfg); err != nil {
		return nil, err
	}
	if err := readStateFile(filepath.Join(dir, "hostconfig.json"), &in.HostConfig); err != nil {
		return nil, err
	}
	if cfg.Config.Image == "" {
		return nil, fmt.Errorf("container %q: state without an image", id)
	}
	in.Name, in.Config.Image = cfg.Name, cfg.Config.Image
	for _, dest := range slices.Sorted(maps.Keys(cfg.MountPoints)) {
		in.Mounts = append(in.Mounts, struct{ Source string }{cfg.MountPoints[dest].Source})
	}
	return in.container(id), nil
}

func readStateFile(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := json.NewDecoder(io.LimitReader(f, maxInspectBody)).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// isContainerID reports whether id is a full Docker container ID, so it
// names one directory under the data root and nothing else.
func isContainerID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := range len(id) {
		if !('0' <= id[i] && id[i] <= '9' || 'a' <= id[i] && id[i] <= 'f') {
			return false
		}
	}
	return true
}

// inspect asks the engine about one container.
func (c *containerCache) inspect(ctx context.Context, id string) (*event.Container, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/containers/"+url.PathEscape(id)+"/json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("inspect container %q: %w", id, err)
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, maxInspectBody)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("inspect container %q: %w", id, errNoContainer)
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("inspect container %q: %s", id, resp.Status)
	}
	var in inspectResponse
	if err := json.NewDecoder(body).Decode(&in); err != nil {
		return nil, fmt.Errorf("inspect container %q: decode: %w", id, err)
	}
	return in.container(id), nil
}

// inspectResponse holds the fields of GET /containers/{id}/json used
// here; their names are stable since API 1.24.
type inspectResponse struct {
	ID     string `json:"Id"`
	Name   string
	Config struct {
		Image string
	}
	HostConfig struct {
		Privileged  bool
		CapAdd      []string
		NetworkMode string
		PidMode     string
		IpcMode     string
	}
	Mounts []struct {
		Source string
	}
}

func (in *inspectResponse) container(id string) *event.Container {
	c := &event.Container{
		ID:         id,
		Name:       strings.TrimPrefix(in.Name, "/"),
		Image:      in.Config.Image,
		Runtime:    "docker",
		Privileged: in.HostConfig.Privileged,
		HostPID:    in.HostConfig.PidMode == "host",
		HostNet:    in.HostConfig.NetworkMode == "host",
		HostIPC:    in.HostConfig.IpcMode == "host",
	}
	for _, name := range in.HostConfig.CapAdd {
		name = strings.ToUpper(strings.TrimSpace(name))
		c.CapAdd = append(c.CapAdd, strings.TrimPrefix(name, "CAP_"))
	}
	for _, m := range in.Mounts {
		if m.Source != "" {
			c.Mounts = append(c.Mounts, m.Source)
		}
	}
	return c
}

// resolve returns container id's details, asking the engine now (within
// the lookup timeout) when they are not cached. For alerts, which are rare
// and worth the wait; events use get.
func (c *containerCache) resolve(ctx context.Context, id string) *event.Container {
	now := c.now()
	c.mu.Lock()
	if e := c.cache[id]; e != nil && e.c != nil && (e.c.Image != "" || e.pending || now.Before(e.expires)) {
		// Known, being looked up by the worker, or known not to answer.
		c.mu.Unlock()
		return e.c
	}
	c.mu.Unlock()
	c.lookup(ctx, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cache[id]; e != nil && e.c != nil {
		return e.c
	}
	return &event.Container{ID: id}
}
