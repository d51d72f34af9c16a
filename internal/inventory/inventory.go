// Package inventory defines what Vigil knows about a host's assets: one Go
// type per kind (user, port, process, package, ...) and the Inventory that
// groups them by category.
//
// These types are the documented JSON schema of `vigil inventory` (see
// docs/inventory.md). STYLE.md prefers converters at the API edge; here the
// domain types and the wire schema are the same shape by design, so they
// carry JSON tags, and golden-file tests pin the encoding. Rename nothing
// that the schema document names.
package inventory

import "time"

// Category names, also used as collector names and JSON keys.
const (
	CategoryHost           = "host"
	CategoryAccounts       = "accounts"
	CategoryPorts          = "ports"
	CategoryProcesses      = "processes"
	CategoryMiddleware     = "middleware"
	CategoryScheduledTasks = "scheduled_tasks"
	CategoryStartupItems   = "startup_items"
	CategoryPackages       = "packages"
	CategoryContainers     = "containers"
)

// Categories lists every category in output order.
var Categories = []string{
	CategoryHost, CategoryAccounts, CategoryPorts, CategoryProcesses,
	CategoryMiddleware, CategoryScheduledTasks, CategoryStartupItems,
	CategoryPackages, CategoryContainers,
}

// Inventory is everything collected about one host or root tree. A
// collector fills the fields of its own category and leaves the rest zero.
type Inventory struct {
	Host           *Host           `json:"host,omitempty"`
	Accounts       *Accounts       `json:"accounts,omitempty"`
	Ports          []Port          `json:"ports,omitempty"`
	Processes      []Process       `json:"processes,omitempty"`
	Middleware     []Middleware    `json:"middleware,omitempty"`
	ScheduledTasks []ScheduledTask `json:"scheduled_tasks,omitempty"`
	StartupItems   []StartupItem   `json:"startup_items,omitempty"`
	Packages       []Package       `json:"packages,omitempty"`
	Containers     []Container     `json:"containers,omitempty"`
}

// Merge copies into inv every category that other has filled. Slices are
// appended, so several collectors may contribute to one category.
func (inv *Inventory) Merge(other *Inventory) {
	if other.Host != nil {
		inv.Host = other.Host
	}
	if other.Accounts != nil {
		inv.Accounts = other.Accounts
	}
	inv.Ports = append(inv.Ports, other.Ports...)
	inv.Processes = append(inv.Processes, other.Processes...)
	inv.Middleware = append(inv.Middleware, other.Middleware...)
	inv.ScheduledTasks = append(inv.ScheduledTasks, other.ScheduledTasks...)
	inv.StartupItems = append(inv.StartupItems, other.StartupItems...)
	inv.Packages = append(inv.Packages, other.Packages...)
	inv.Containers = append(inv.Containers, other.Containers...)
}

// Host describes the machine itself.
type Host struct {
	Hostname  string    `json:"hostname"`
	OS        OSRelease `json:"os"`
	Kernel    Kernel    `json:"kernel"`
	BootTime  time.Time `json:"boot_time,omitzero"`
	MachineID string    `json:"machine_id,omitempty"`
	BootID    string    `json:"boot_id,omitempty"`
	// Interfaces are read from the running kernel; empty for offline roots.
	Interfaces   []Interface `json:"interfaces"`
	Cloud        *Cloud      `json:"cloud,omitempty"`
	AgentVersion string      `json:"agent_version"`
	Timezone     string      `json:"timezone,omitempty"`
}

// OSRelease is the parsed os-release file.
type OSRelease struct {
	ID              string   `json:"id"`
	IDLike          []string `json:"id_like,omitempty"`
	Name            string   `json:"name,omitempty"`
	PrettyName      string   `json:"pretty_name,omitempty"`
	Version         string   `json:"version,omitempty"`
	VersionID       string   `json:"version_id,omitempty"`
	VersionCodename string   `json:"version_codename,omitempty"`
}

// Kernel identifies the running kernel.
type Kernel struct {
	Release string `json:"release,omitempty"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch,omitempty"`
}

// Interface is one network interface and its addresses.
type Interface struct {
	Name      string      `json:"name"`
	MAC       string      `json:"mac,omitempty"`
	Up        bool        `json:"up"`
	Addresses []IPAddress `json:"addresses"`
}

// IPAddress is one address on an interface.
type IPAddress struct {
	Address   string `json:"address"`
	PrefixLen int    `json:"prefix_len"`
	Family    int    `json:"family"`
	// Public is true unless the address is loopback, link-local, RFC 1918,
	// RFC 6598 shared, unique-local (fc00::/7) or otherwise not routable.
	Public bool `json:"public"`
}

// Cloud names the cloud the host runs in, when known.
type Cloud struct {
	Provider string `json:"provider"`
	// Source says how the provider was identified: "dmi" or "metadata".
	Source     string `json:"source"`
	InstanceID string `json:"instance_id,omitempty"`
	Region     string `json:"region,omitempty"`
	Zone       string `json:"zone,omitempty"`
}

// Accounts holds users, groups and recent logins.
type Accounts struct {
	Users  []User  `json:"users"`
	Groups []Group `json:"groups"`
	// Logins are the most recent login records from wtmp, newest first.
	Logins []Login `json:"logins,omitempty"`
}

// User is one account from passwd, enriched from shadow, sudoers,
// authorized_keys and lastlog.
type User struct {
	Name  string `json:"name"`
	UID   int    `json:"uid"`
	GID   int    `json:"gid"`
	Gecos string `json:"gecos,omitempty"`
	Home  string `json:"home"`
	Shell string `json:"shell"`
	// InteractiveShell is false when the shell is empty or a program that
	// refuses or ends the session (nologin, false, true, sync, shutdown,
	// halt), true otherwise. It says nothing about the password or keys:
	// see PasswordState and AuthorizedKeys for whether the user can log in.
	InteractiveShell bool `json:"interactive_shell"`
	// Privileged is true for uid 0.
	Privileged bool `json:"privileged"`
	// Sudo is true when sudoers grants this user (directly or through a
	// group) the right to run commands as another user.
	Sudo      bool     `json:"sudo"`
	SudoRules []string `json:"sudo_rules,omitempty"`
	// Groups are the supplementary groups the user belongs to.
	Groups []string `json:"groups,omitempty"`
	// PasswordState is "none" (empty password: anyone can log in),
	// "locked", "set", "unknown" (no shadow entry or shadow unreadable).
	PasswordState      string          `json:"password_state"`
	PasswordScheme     string          `json:"password_scheme,omitempty"`
	PasswordLastChange *time.Time      `json:"password_last_change,omitempty"`
	PasswordMaxDays    *int            `json:"password_max_days,omitempty"`
	AuthorizedKeys     []AuthorizedKey `json:"authorized_keys"`
	LastLogin          *Login          `json:"last_login,omitempty"`
}

// AuthorizedKey is one line of an authorized_keys file.
type AuthorizedKey struct {
	Type        string   `json:"type"`
	Fingerprint string   `json:"fingerprint"`
	Comment     string   `json:"comment,omitempty"`
	Options     []string `json:"options,omitempty"`
	File        string   `json:"file"`
	Line        int      `json:"line"`
}

// Group is one entry of /etc/group.
type Group struct {
	Name    string   `json:"name"`
	GID     int      `json:"gid"`
	Members []string `json:"members,omitempty"`
}

// Login is one login record (wtmp or lastlog).
type Login struct {
	User   string    `json:"user"`
	TTY    string    `json:"tty,omitempty"`
	Host   string    `json:"host,omitempty"`
	Time   time.Time `json:"time"`
	Source string    `json:"source"`
}

// Port is one listening socket.
type Port struct {
	Protocol string `json:"protocol"` // "tcp" or "udp"
	Family   int    `json:"family"`   // 4 or 6
	Address  string `json:"address"`
	Port     int    `json:"port"`
	// PID is the lowest PID holding the socket, 0 when unknown.
	PID     int    `json:"pid"`
	PIDs    []int  `json:"pids,omitempty"`
	Process string `json:"process,omitempty"`
	Exe     string `json:"exe"`
	UID     int    `json:"uid"`
	Inode   uint64 `json:"inode,omitempty"`
	// Exposed is true when the socket is bound to a wildcard or public
	// address, that is reachable from outside the host.
	Exposed bool `json:"exposed"`
}

// Process is one running process.
type Process struct {
	PID     int      `json:"pid"`
	PPID    int      `json:"ppid"`
	Name    string   `json:"name"`
	Exe     string   `json:"exe"`
	Cmdline string   `json:"cmdline"`
	Args    []string `json:"args,omitempty"`
	// ExeDeleted: the executable was deleted after the process started.
	ExeDeleted bool `json:"exe_deleted,omitempty"`
	// ExeMemfd: the process runs from a memfd (fileless execution).
	ExeMemfd    bool      `json:"exe_memfd,omitempty"`
	User        string    `json:"user"`
	UID         int       `json:"uid"`
	StartTime   time.Time `json:"start_time"`
	CWD         string    `json:"cwd,omitempty"`
	ContainerID string    `json:"container_id,omitempty"`
	SHA256      string    `json:"sha256,omitempty"`
	// ExecID identifies the process over time: boot ID, start time, PID.
	ExecID string `json:"exec_id"`
}

// Middleware is a recognised server application.
type Middleware struct {
	Name string `json:"name"` // "nginx", "redis", "postgresql", ...
	// Kind is "web", "database", "cache", "queue", "search", "container",
	// "runtime" or "app".
	Kind    string `json:"kind"`
	Version string `json:"version,omitempty"`
	// VersionSource: "dpkg", "rpm", "apk", "manifest", "binary", "buildinfo".
	VersionSource string            `json:"version_source,omitempty"`
	Package       string            `json:"package,omitempty"`
	PID           int               `json:"pid,omitempty"`
	Exe           string            `json:"exe,omitempty"`
	User          string            `json:"user,omitempty"`
	Running       bool              `json:"running"`
	ConfigPaths   []string          `json:"config_paths,omitempty"`
	Listen        []ListenAddr      `json:"listen,omitempty"`
	Details       map[string]string `json:"details,omitempty"`
}

// ListenAddr is a protocol, address and port a middleware listens on.
type ListenAddr struct {
	Protocol string `json:"protocol"`
	Address  string `json:"address"`
	Port     int    `json:"port"`
	Exposed  bool   `json:"exposed"`
}

// ScheduledTask is one cron line, anacron job, at job or systemd timer.
type ScheduledTask struct {
	// Type: "cron", "cron_dir" (cron.hourly etc.), "anacron", "at",
	// "systemd_timer".
	Type     string `json:"type"`
	User     string `json:"user"`
	Schedule string `json:"schedule"`
	Command  string `json:"command"`
	Source   string `json:"source"`
	Line     int    `json:"line,omitempty"`
	// Unit is the systemd unit a timer activates.
	Unit    string `json:"unit,omitempty"`
	Enabled bool   `json:"enabled"`
}

// StartupItem is something that runs at boot or login.
type StartupItem struct {
	// Type: "systemd", "sysv", "openrc", "rc_local", "local_d", "profile_d",
	// "ld_so_preload", "modules_load", "kernel_module".
	Type    string `json:"type"`
	Name    string `json:"name"`
	Source  string `json:"source"`
	Command string `json:"command,omitempty"`
	User    string `json:"user,omitempty"`
	Enabled bool   `json:"enabled"`
	// Details holds type-specific facts (runlevels, wanted_by, module
	// state, ...).
	Details map[string]string `json:"details,omitempty"`
}

// Package is one installed package: an OS package from dpkg, rpm or
// apk, or a language package found by an extractor in a binary, archive,
// installed-package directory or lockfile.
type Package struct {
	Name          string `json:"name"`
	Version       string `json:"version"`
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`
	Arch          string `json:"arch,omitempty"`
	// Type is the package-URL type: "deb", "rpm", "apk" for OS packages;
	// "golang", "maven", "pypi", "npm", "cargo", "composer", "gem" for
	// language packages.
	Type string `json:"type"`
	// Source is the database file the package was read from.
	Source     string `json:"source,omitempty"`
	Maintainer string `json:"maintainer,omitempty"`
	// Ecosystem is the OSV ecosystem ("Go", "npm", "PyPI", "Maven",
	// "crates.io", "Packagist", "RubyGems"; for OS packages it is set by
	// the vulnerability matcher from the OS release, e.g. "Debian:12").
	Ecosystem string `json:"ecosystem,omitempty"`
	// PURL is the package URL (https://github.com/package-url/purl-spec).
	PURL string `json:"purl,omitempty"`
	// Locations are the files the package was found in (a binary, a jar
	// inside a war as "app.war!WEB-INF/lib/x.jar", a lockfile).
	Locations []string `json:"locations,omitempty"`
}

// Container is one container known to a local container engine.
type Container struct {
	ID          string           `json:"id"`
	Name        string           `json:"name"`
	Image       string           `json:"image"`
	ImageID     string           `json:"image_id,omitempty"`
	Engine      string           `json:"engine"`
	State       string           `json:"state"`
	Created     time.Time        `json:"created,omitzero"`
	PID         int              `json:"pid,omitempty"`
	Privileged  bool             `json:"privileged"`
	CapAdd      []string         `json:"cap_add,omitempty"`
	CapDrop     []string         `json:"cap_drop,omitempty"`
	HostNetwork bool             `json:"host_network"`
	HostPID     bool             `json:"host_pid"`
	HostIPC     bool             `json:"host_ipc"`
	HostUTS     bool             `json:"host_uts"`
	User        string           `json:"user,omitempty"`
	SecurityOpt []string         `json:"security_opt,omitempty"`
	Mounts      []ContainerMount `json:"mounts,omitempty"`
	Ports       []ContainerPort  `json:"ports,omitempty"`
}

// ContainerMount is one mount of a container.
type ContainerMount struct {
	Type        string `json:"type"`
	Source      string `json:"source"`
	Destination string `json:"destination"`
	ReadWrite   bool   `json:"rw"`
	// Sensitive marks host paths that give control of the host
	// (/, /etc, /proc, /sys, /var/run/docker.sock, ...).
	Sensitive bool `json:"sensitive"`
}

// ContainerPort is one published port.
type ContainerPort struct {
	Protocol      string `json:"protocol"`
	ContainerPort int    `json:"container_port"`
	HostIP        string `json:"host_ip,omitempty"`
	HostPort      int    `json:"host_port,omitempty"`
}
