// Package host collects the basic facts about a machine: hostname, OS
// release, kernel, boot time, machine and boot IDs, interface addresses
// with a public flag, the cloud provider as DMI reports it (and, only when
// an endpoint is configured, instance details from the cloud's metadata
// service), and the agent version.
package host

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/netutil"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/procutil"
	"github.com/vigilsec/vigil/internal/version"
)

// Name is the collector's name and JSON category.
const Name = inventory.CategoryHost

// Config configures the host collector.
type Config struct {
	// MetadataURL is the base URL of the cloud metadata service (for
	// example "http://169.254.169.254"). Empty, the default, means the
	// metadata service is never contacted and the provider comes from
	// DMI alone.
	MetadataURL string
	// MetadataTimeout bounds each metadata request (default 2s).
	MetadataTimeout time.Duration
}

// Collector is the host collector.
type Collector struct {
	cfg Config
	// interfacesFn lists interfaces; a test seam.
	interfacesFn func() ([]inventory.Interface, error)
}

// New returns a host collector.
func New(cfg Config) collector.Collector {
	if cfg.MetadataTimeout == 0 {
		cfg.MetadataTimeout = 2 * time.Second
	}
	return &Collector{cfg: cfg, interfacesFn: liveInterfaces}
}

func (*Collector) Name() string                       { return Name }
func (*Collector) Version() int                       { return 1 }
func (*Collector) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

// Collect implements collector.Collector.
func (c *Collector) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	var problems plugin.Problems
	h := &inventory.Host{AgentVersion: version.String(), Interfaces: []inventory.Interface{}}

	// The running kernel's hostname is the truth on a live host; an
	// offline root only has its configuration file.
	if in.ProcPath != "" {
		h.Hostname = readTrimmedFile(in.ProcPath, "sys/kernel/hostname")
		h.Kernel.Release = readTrimmedFile(in.ProcPath, "sys/kernel/osrelease")
		h.Kernel.Version = readTrimmedFile(in.ProcPath, "sys/kernel/version")
		h.BootID = readTrimmedFile(in.ProcPath, "sys/kernel/random/boot_id")
		if bt, err := procutil.BootTime(in.ProcPath); err != nil {
			problems.Add(fmt.Errorf("boot time: %w", err))
		} else {
			h.BootTime = time.Unix(bt, 0).UTC()
		}
	}
	if h.Hostname == "" {
		h.Hostname = firstLine(in.Root, "etc/hostname")
	}
	if in.Live {
		var u unix.Utsname
		if err := unix.Uname(&u); err == nil {
			h.Kernel.Arch = unix.ByteSliceToString(u.Machine[:])
		}
	}

	osr, err := readOSRelease(in.Root)
	if err != nil {
		problems.Add(err)
	} else {
		h.OS = osr
	}
	h.MachineID = firstLine(in.Root, "etc/machine-id")
	if h.MachineID == "" {
		h.MachineID = firstLine(in.Root, "var/lib/dbus/machine-id")
	}
	h.Timezone = timezone(in.Root)

	if in.Live {
		ifs, err := c.interfacesFn()
		if err != nil {
			problems.Addf("list interfaces: %v", err)
		} else {
			h.Interfaces = ifs
		}
	}

	h.Cloud = cloudFromDMI(in.Root)
	if c.cfg.MetadataURL != "" && in.Live {
		cloud, err := c.queryMetadata(ctx, h.Cloud)
		if err != nil {
			problems.Addf("cloud metadata %s: %v", c.cfg.MetadataURL, err)
		} else if cloud != nil {
			h.Cloud = cloud
		}
	}
	return &inventory.Inventory{Host: h}, problems.Err()
}

func readTrimmedFile(dir, name string) string {
	b, err := os.ReadFile(path.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// firstLine returns the first non-comment line of a small file in root.
func firstLine(root fs.FS, name string) string {
	f, err := root.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// osReleasePaths are tried in order, as os-release(5) says.
var osReleasePaths = []string{"etc/os-release", "usr/lib/os-release"}

func readOSRelease(root fs.FS) (inventory.OSRelease, error) {
	for _, p := range osReleasePaths {
		f, err := root.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return inventory.OSRelease{}, fmt.Errorf("open /%s: %w", p, err)
		}
		defer f.Close()
		kv, err := ParseOSRelease(io.LimitReader(f, 1<<20))
		if err != nil {
			return inventory.OSRelease{}, fmt.Errorf("/%s: %w", p, err)
		}
		return inventory.OSRelease{
			ID:              kv["ID"],
			IDLike:          fieldsOrNil(kv["ID_LIKE"]),
			Name:            kv["NAME"],
			PrettyName:      kv["PRETTY_NAME"],
			Version:         kv["VERSION"],
			VersionID:       kv["VERSION_ID"],
			VersionCodename: kv["VERSION_CODENAME"],
		}, nil
	}
	// Alpine before os-release, and minimal images: fall back to the
	// distribution's own release files.
	if v := firstLine(root, "etc/alpine-release"); v != "" {
		return inventory.OSRelease{ID: "alpine", Name: "Alpine Linux", VersionID: v}, nil
	}
	if v := firstLine(root, "etc/redhat-release"); v != "" {
		return inventory.OSRelease{ID: "rhel", PrettyName: v}, nil
	}
	if v := firstLine(root, "etc/debian_version"); v != "" {
		return inventory.OSRelease{ID: "debian", Name: "Debian GNU/Linux", VersionID: v}, nil
	}
	return inventory.OSRelease{}, errors.New("no os-release file")
}

// ParseOSRelease parses the shell-like KEY=value format of os-release(5).
// Lines it cannot parse are skipped; an error is returned only when the
// input has no valid assignment at all.
func ParseOSRelease(r io.Reader) (map[string]string, error) {
	kv := make(map[string]string)
	sc := bufio.NewScanner(r)
	bad := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\"'") {
			bad++
			continue
		}
		kv[k] = unquote(v)
	}
	if err := sc.Err(); err != nil {
		return kv, err
	}
	if len(kv) == 0 && bad > 0 {
		return nil, fmt.Errorf("no KEY=value assignments (%d malformed lines)", bad)
	}
	return kv, nil
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		q := v[0]
		v = v[1 : len(v)-1]
		if q == '"' {
			r := strings.NewReplacer(`\"`, `"`, `\\`, `\`, `\$`, `$`, "\\`", "`")
			v = r.Replace(v)
		}
	}
	return v
}

func fieldsOrNil(s string) []string {
	if f := strings.Fields(s); len(f) > 0 {
		return f
	}
	return nil
}

func timezone(root fs.FS) string {
	if tz := firstLine(root, "etc/timezone"); tz != "" {
		return tz
	}
	// /etc/localtime is a symlink into the zoneinfo database.
	if rl, ok := root.(fs.ReadLinkFS); ok {
		if target, err := rl.ReadLink("etc/localtime"); err == nil {
			if _, tz, ok := strings.Cut(target, "zoneinfo/"); ok {
				return tz
			}
		}
	}
	return ""
}

func liveInterfaces() ([]inventory.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make([]inventory.Interface, 0, len(ifs))
	for _, ifc := range ifs {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		item := inventory.Interface{
			Name:      ifc.Name,
			MAC:       ifc.HardwareAddr.String(),
			Up:        ifc.Flags&net.FlagUp != 0,
			Addresses: []inventory.IPAddress{},
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			addr, ok := netip.AddrFromSlice(ipn.IP)
			if !ok {
				continue
			}
			addr = addr.Unmap()
			ones, _ := ipn.Mask.Size()
			fam := 6
			if addr.Is4() {
				fam = 4
			}
			item.Addresses = append(item.Addresses, inventory.IPAddress{
				Address:   addr.String(),
				PrefixLen: ones,
				Family:    fam,
				Public:    netutil.IsPublic(addr),
			})
		}
		out = append(out, item)
	}
	return out, nil
}

// dmiDir is where the kernel exports SMBIOS strings.
const dmiDir = "sys/class/dmi/id"

// dmiRule recognises a provider from one DMI field.
type dmiRule struct {
	field, contains, provider string
}

// dmiRules are checked in order; the first match wins. Sources: each
// provider's documentation of how to detect its VMs from SMBIOS.
var dmiRules = []dmiRule{
	{"sys_vendor", "Amazon EC2", "aws"},
	{"bios_version", "amazon", "aws"},
	{"product_name", "Google Compute Engine", "gcp"},
	{"chassis_asset_tag", "7783-7084-3265-9085-8269-3286-77", "azure"},
	{"product_name", "Alibaba Cloud", "alibaba"},
	{"sys_vendor", "Alibaba Cloud", "alibaba"},
	{"sys_vendor", "Tencent Cloud", "tencent"},
	{"product_name", "Tencent", "tencent"},
	{"sys_vendor", "Huawei Cloud", "huawei"},
	{"chassis_asset_tag", "HUAWEICLOUD", "huawei"},
	{"chassis_asset_tag", "OracleCloud.com", "oracle"},
	{"sys_vendor", "DigitalOcean", "digitalocean"},
	{"sys_vendor", "Hetzner", "hetzner"},
	{"sys_vendor", "Vultr", "vultr"},
	{"sys_vendor", "Scaleway", "scaleway"},
	{"product_name", "OpenStack", "openstack"},
	{"sys_vendor", "OpenStack", "openstack"},
}

func cloudFromDMI(root fs.FS) *inventory.Cloud {
	fields := map[string]string{}
	get := func(name string) string {
		v, ok := fields[name]
		if !ok {
			b, err := fs.ReadFile(root, path.Join(dmiDir, name))
			if err == nil {
				v = strings.TrimSpace(string(b))
			}
			fields[name] = v
		}
		return v
	}
	for _, r := range dmiRules {
		if strings.Contains(strings.ToLower(get(r.field)), strings.ToLower(r.contains)) {
			c := &inventory.Cloud{Provider: r.provider, Source: "dmi"}
			switch r.provider {
			case "aws":
				// Nitro instances carry the instance ID as the board asset tag.
				if tag := get("board_asset_tag"); strings.HasPrefix(tag, "i-") {
					c.InstanceID = tag
				}
			case "azure":
				c.InstanceID = strings.ToLower(get("product_uuid"))
			case "alibaba", "tencent":
				c.InstanceID = get("product_serial")
			}
			return c
		}
	}
	return nil
}

// queryMetadata asks the configured metadata service for instance
// details. Which paths it asks depends on the provider DMI named; with no
// DMI hint, it tries each known layout in turn.
func (c *Collector) queryMetadata(ctx context.Context, dmi *inventory.Cloud) (*inventory.Cloud, error) {
	client := &http.Client{
		Timeout: c.cfg.MetadataTimeout,
		// Metadata services never redirect; refusing keeps requests on
		// the configured host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	providers := []string{"aws", "gcp", "azure", "alibaba"}
	if dmi != nil {
		providers = []string{dmi.Provider}
	}
	var errs []error
	for _, p := range providers {
		q, ok := metadataQueries[p]
		if !ok {
			continue
		}
		cloud, err := q(ctx, client, strings.TrimRight(c.cfg.MetadataURL, "/"))
		if err == nil {
			cloud.Provider, cloud.Source = p, "metadata"
			return cloud, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", p, err))
	}
	if len(errs) == 0 {
		return nil, nil
	}
	return nil, errors.Join(errs...)
}
