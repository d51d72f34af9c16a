// Package containers collects the containers known to the local Docker
// engine, running and stopped, with the settings that decide how much of
// the host a container can reach: privileges, capabilities, host
// namespaces, bind mounts of sensitive host paths and published ports.
//
// It talks to the Engine API with net/http over the unix socket instead of
// github.com/moby/moby/client: we need two read-only calls, and the client
// would link OpenTelemetry instrumentation and decode every inspect field
// (keeping a raw copy of each response) where we decode only the dozen
// fields we report. Requests use unversioned paths, so the engine answers
// with its own API version; the fields read here have kept their names
// since API 1.24, and engines that refuse old versions (Docker 29 needs
// 1.44) accept unversioned requests.
//
// Capabilities are reported without the "CAP_" prefix ("SYS_ADMIN"), as
// `docker run --cap-add` spells them; engines report either form.
package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Name is the collector's name.
const Name = inventory.CategoryContainers

const (
	// callTimeout bounds each Engine API call.
	callTimeout = 5 * time.Second
	// maxContainers bounds how many containers are inspected.
	maxContainers = 5000
	// maxListBody and maxInspectBody bound the responses read.
	maxListBody    = 64 << 20
	maxInspectBody = 4 << 20
)

type containers struct{}

// New returns the containers collector.
func New() collector.Collector { return containers{} }

func (containers) Name() string { return Name }
func (containers) Version() int { return 1 }
func (containers) Requirements() *plugin.Capabilities {
	return &plugin.Capabilities{Root: true, RunningHost: true, Network: true}
}

// Collect lists every container of the engine at in.DockerHost and
// inspects each. It skips when DockerHost is empty or no engine listens
// on the socket.
func (containers) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	if in.DockerHost == "" {
		return nil, plugin.Skip("no Docker host configured")
	}
	sock, err := socketPath(in.DockerHost)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(sock); err != nil {
		return nil, plugin.Skip("no Docker engine at %s", sock)
	}
	e := newEngine(sock)
	defer e.close()

	list, err := e.list(ctx)
	if err != nil {
		if isNoEngine(err) {
			return nil, plugin.Skip("no Docker engine at %s", sock)
		}
		return nil, err
	}
	var problems plugin.Problems
	if len(list) > maxContainers {
		problems.Addf("engine reports more than %d containers; only %d inspected", maxContainers, maxContainers)
		list = list[:maxContainers]
	}
	inv := &inventory.Inventory{Containers: make([]inventory.Container, 0, len(list))}
	for _, s := range list {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := e.inspect(ctx, s.ID)
		if errors.Is(err, errNotFound) {
			continue // removed since the list call
		}
		if err != nil {
			problems.Addf("inspect container %q: %v", s.ID, err)
			continue
		}
		inv.Containers = append(inv.Containers, convert(c))
	}
	sort.Slice(inv.Containers, func(i, j int) bool { return inv.Containers[i].Name < inv.Containers[j].Name })
	return inv, problems.Err()
}

// socketPath returns the unix socket path of a Docker host URL.
func socketPath(host string) (string, error) {
	if p, ok := strings.CutPrefix(host, "unix://"); ok && p != "" {
		return p, nil
	}
	if strings.HasPrefix(host, "/") {
		return host, nil
	}
	return "", fmt.Errorf("unsupported docker host %q: only unix sockets are supported", host)
}

// isNoEngine reports whether err means nothing listens on the socket.
func isNoEngine(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) ||
		errors.Is(err, syscall.ENOTSOCK)
}

var errNotFound = errors.New("not found")

// engine is a minimal Engine API client over a unix socket.
type engine struct {
	client *http.Client
	tr     *http.Transport
}

func newEngine(sock string) *engine {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns:       1,
		DisableCompression: true,
	}
	return &engine{client: &http.Client{Transport: tr}, tr: tr}
}

func (e *engine) close() { e.tr.CloseIdleConnections() }

// get decodes the JSON answer to GET path into v.
func (e *engine) get(ctx context.Context, path string, limit int64, v any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker"+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, limit)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return errNotFound
	case resp.StatusCode != http.StatusOK:
		var msg struct{ Message string }
		_ = json.NewDecoder(body).Decode(&msg)
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, msg.Message)
	}
	if err := json.NewDecoder(body).Decode(v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// summary is one entry of GET /containers/json.
type summary struct {
	ID string `json:"Id"`
}

func (e *engine) list(ctx context.Context) ([]summary, error) {
	var list []summary
	// limit one past the cap lets us notice that it was hit.
	q := "/containers/json?all=1&limit=" + strconv.Itoa(maxContainers+1)
	if err := e.get(ctx, q, maxListBody, &list); err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	return list, nil
}

func (e *engine) inspect(ctx context.Context, id string) (*inspect, error) {
	var c inspect
	if err := e.get(ctx, "/containers/"+url.PathEscape(id)+"/json", maxInspectBody, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// inspect holds the fields of GET /containers/{id}/json that we report.
type inspect struct {
	ID      string `json:"Id"`
	Name    string
	Created string
	Image   string // the image ID
	State   struct {
		Status string
		Pid    int
	}
	Config struct {
		Image string // the image as given
		User  string
	}
	HostConfig struct {
		Privileged   bool
		CapAdd       []string
		CapDrop      []string
		NetworkMode  string
		PidMode      string
		IpcMode      string
		UTSMode      string
		SecurityOpt  []string
		PortBindings map[string][]portBinding
	}
	Mounts []struct {
		Type        string
		Source      string
		Destination string
		RW          bool
	}
	NetworkSettings struct {
		Ports map[string][]portBinding
	}
}

type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// convert turns an inspect answer into a Container.
func convert(c *inspect) inventory.Container {
	out := inventory.Container{
		ID:          c.ID,
		Name:        strings.TrimPrefix(c.Name, "/"),
		Image:       c.Config.Image,
		ImageID:     c.Image,
		Engine:      "docker",
		State:       c.State.Status,
		PID:         c.State.Pid,
		Privileged:  c.HostConfig.Privileged,
		CapAdd:      normCaps(c.HostConfig.CapAdd),
		CapDrop:     normCaps(c.HostConfig.CapDrop),
		HostNetwork: c.HostConfig.NetworkMode == "host",
		HostPID:     c.HostConfig.PidMode == "host",
		HostIPC:     c.HostConfig.IpcMode == "host",
		HostUTS:     c.HostConfig.UTSMode == "host",
		User:        c.Config.User,
		SecurityOpt: c.HostConfig.SecurityOpt,
	}
	if t, err := time.Parse(time.RFC3339Nano, c.Created); err == nil {
		out.Created = t.UTC()
	}
	for _, m := range c.Mounts {
		out.Mounts = append(out.Mounts, inventory.ContainerMount{
			Type:        m.Type,
			Source:      m.Source,
			Destination: m.Destination,
			ReadWrite:   m.RW,
			Sensitive:   m.Type == "bind" && SensitiveHostPath(m.Source),
		})
	}
	// A running container publishes what NetworkSettings shows (with
	// ephemeral host ports resolved); a stopped one publishes its
	// configured bindings once started.
	ports := c.NetworkSettings.Ports
	if c.State.Status != "running" {
		ports = c.HostConfig.PortBindings
	}
	out.Ports = convertPorts(ports)
	return out
}

// convertPorts flattens a "80/tcp" -> bindings map into sorted ports,
// leaving out exposed ports that are not published.
func convertPorts(m map[string][]portBinding) []inventory.ContainerPort {
	var out []inventory.ContainerPort
	for spec, bindings := range m {
		num, proto, _ := strings.Cut(spec, "/")
		if proto == "" {
			proto = "tcp"
		}
		cport, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		for _, b := range bindings {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, inventory.ContainerPort{
				Protocol:      proto,
				ContainerPort: cport,
				HostIP:        b.HostIP,
				HostPort:      hp,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort < b.ContainerPort
		}
		if a.Protocol != b.Protocol {
			return a.Protocol < b.Protocol
		}
		if a.HostIP != b.HostIP {
			return a.HostIP < b.HostIP
		}
		return a.HostPort < b.HostPort
	})
	return out
}

// normCaps upper-cases capability names and removes the "CAP_" prefix.
func normCaps(caps []string) []string {
	if len(caps) == 0 {
		return nil
	}
	out := make([]string, 0, len(caps))
	for _, c := range caps {
		c = strings.ToUpper(strings.TrimSpace(c))
		out = append(out, strings.TrimPrefix(c, "CAP_"))
	}
	return out
}
