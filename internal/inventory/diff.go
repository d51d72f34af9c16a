package inventory

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/severity"
)

// ChangeKind says how an asset changed between two snapshots.
type ChangeKind int

const (
	ChangeUnspecified ChangeKind = iota
	ChangeAdded
	ChangeRemoved
	ChangeModified
)

var changeKindNames = [...]string{"unspecified", "added", "removed", "changed"}

func (k ChangeKind) String() string {
	if k >= 0 && int(k) < len(changeKindNames) {
		return changeKindNames[k]
	}
	return "changekind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes a ChangeKind as its name.
func (k ChangeKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a ChangeKind name.
func (k *ChangeKind) UnmarshalText(b []byte) error {
	i := slices.Index(changeKindNames[:], string(b))
	if i < 0 {
		return fmt.Errorf("unknown change kind %q", b)
	}
	*k = ChangeKind(i)
	return nil
}

// Change is one difference between two snapshots, phrased for a person
// and rated by how likely it is to be the trace of an intrusion.
type Change struct {
	Kind     ChangeKind `json:"kind"`
	Category string     `json:"category"`
	// Subject names the asset: `user "toor"`, "tcp 0.0.0.0:8080".
	Subject string `json:"subject"`
	// Summary is one line a person reads: `new uid-0 user "toor"`.
	Summary  string         `json:"summary"`
	Severity severity.Level `json:"severity"`
	// Field, Before and After describe a changed attribute.
	Field  string `json:"field,omitempty"`
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
}

// Diff compares two snapshots and returns what appeared, disappeared or
// changed, most severe first. Only categories that ran in both snapshots
// are compared, so a failed or skipped collector never reads as "all
// removed". Processes are not compared: they come and go by design; the
// runtime sensors watch them instead.
func Diff(old, cur *Snapshot) []Change {
	var d differ
	both := func(c string) bool { return old.Ran(c) && cur.Ran(c) }
	if both(CategoryHost) && old.Host != nil && cur.Host != nil {
		d.host(old.Host, cur.Host)
	}
	if both(CategoryAccounts) && old.Accounts != nil && cur.Accounts != nil {
		d.users(old.Accounts.Users, cur.Accounts.Users)
		d.groups(old.Accounts.Groups, cur.Accounts.Groups)
	}
	if both(CategoryPorts) {
		d.ports(old.Ports, cur.Ports)
	}
	if both(CategoryMiddleware) {
		d.middleware(old.Middleware, cur.Middleware)
	}
	if both(CategoryScheduledTasks) {
		d.tasks(old.ScheduledTasks, cur.ScheduledTasks)
	}
	if both(CategoryStartupItems) {
		d.startup(old.StartupItems, cur.StartupItems)
	}
	if both(CategoryPackages) {
		d.packages(old.Packages, cur.Packages)
	}
	if both(CategoryContainers) {
		d.containers(old.Containers, cur.Containers)
	}
	order := func(c string) int { return slices.Index(Categories, c) }
	slices.SortStableFunc(d.out, func(a, b Change) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(order(a.Category), order(b.Category)),
			strings.Compare(a.Subject, b.Subject),
			cmp.Compare(a.Kind, b.Kind),
			strings.Compare(a.Field, b.Field),
		)
	})
	return d.out
}

type differ struct{ out []Change }

func (d *differ) add(c Change) { d.out = append(d.out, c) }

func (d *differ) modified(cat, subject, field, before, after string, sev severity.Level, summary string) {
	if before == after {
		return
	}
	d.add(Change{Kind: ChangeModified, Category: cat, Subject: subject, Field: field,
		Before: before, After: after, Severity: sev, Summary: summary})
}

// keyed pairs up the records of two lists by key and calls the handlers.
// Duplicate keys keep the first record.
func keyed[T any](old, cur []T, key func(*T) string, added, removed func(*T), both func(o, n *T)) {
	om := make(map[string]*T, len(old))
	for i := range old {
		k := key(&old[i])
		if _, dup := om[k]; !dup {
			om[k] = &old[i]
		}
	}
	seen := make(map[string]bool, len(cur))
	for i := range cur {
		k := key(&cur[i])
		if seen[k] {
			continue
		}
		seen[k] = true
		if o, ok := om[k]; ok {
			if both != nil {
				both(o, &cur[i])
			}
		} else {
			added(&cur[i])
		}
	}
	for i := range old {
		k := key(&old[i])
		if !seen[k] && om[k] == &old[i] {
			removed(&old[i])
		}
	}
}

func (d *differ) host(o, n *Host) {
	const cat = CategoryHost
	s := "host " + strconv.Quote(n.Hostname)
	d.modified(cat, s, "hostname", o.Hostname, n.Hostname, severity.Medium,
		fmt.Sprintf("hostname changed from %q to %q", o.Hostname, n.Hostname))
	d.modified(cat, s, "machine_id", o.MachineID, n.MachineID, severity.Medium,
		"machine ID changed: a different machine or a reinstalled one")
	d.modified(cat, s, "kernel", o.Kernel.Release, n.Kernel.Release, severity.Info,
		fmt.Sprintf("kernel %s -> %s", o.Kernel.Release, n.Kernel.Release))
	d.modified(cat, s, "os", o.OS.PrettyName, n.OS.PrettyName, severity.Info,
		fmt.Sprintf("OS %q -> %q", o.OS.PrettyName, n.OS.PrettyName))
	oldPub := map[string]bool{}
	for _, a := range publicAddrs(o) {
		oldPub[a] = true
	}
	for _, a := range publicAddrs(n) {
		if !oldPub[a] {
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: s, Field: "public_address", After: a,
				Severity: severity.Medium, Summary: "new public address " + a})
		}
	}
}

func publicAddrs(h *Host) []string {
	var out []string
	for _, ifc := range h.Interfaces {
		for _, a := range ifc.Addresses {
			if a.Public {
				out = append(out, a.Address)
			}
		}
	}
	return out
}

func (d *differ) users(old, cur []User) {
	const cat = CategoryAccounts
	subj := func(u *User) string { return "user " + strconv.Quote(u.Name) }
	keyed(old, cur, func(u *User) string { return u.Name },
		func(u *User) {
			c := Change{Kind: ChangeAdded, Category: cat, Subject: subj(u)}
			switch {
			case u.UID == 0:
				c.Severity, c.Summary = severity.Critical, fmt.Sprintf("new uid-0 user %q", u.Name)
			case u.Sudo:
				c.Severity, c.Summary = severity.High, fmt.Sprintf("new user %q with sudo rights", u.Name)
			case u.InteractiveShell || len(u.AuthorizedKeys) > 0 || u.PasswordState == "none":
				c.Severity, c.Summary = severity.Medium, fmt.Sprintf("new login user %q (uid %d)", u.Name, u.UID)
			default:
				c.Severity, c.Summary = severity.Low, fmt.Sprintf("new system user %q (uid %d)", u.Name, u.UID)
			}
			d.add(c)
			for _, k := range u.AuthorizedKeys {
				d.add(newKeyChange(u, k))
			}
		},
		func(u *User) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: subj(u), Severity: severity.Low,
				Summary: fmt.Sprintf("user %q removed", u.Name)})
		},
		func(o, n *User) {
			s := subj(n)
			if o.UID != n.UID {
				sev, sum := severity.Low, fmt.Sprintf("uid of %q changed %d -> %d", n.Name, o.UID, n.UID)
				if n.UID == 0 {
					sev, sum = severity.Critical, fmt.Sprintf("user %q now has uid 0", n.Name)
				}
				d.modified(cat, s, "uid", strconv.Itoa(o.UID), strconv.Itoa(n.UID), sev, sum)
			}
			d.modified(cat, s, "gid", strconv.Itoa(o.GID), strconv.Itoa(n.GID), severity.Low,
				fmt.Sprintf("primary group of %q changed %d -> %d", n.Name, o.GID, n.GID))
			if o.Sudo != n.Sudo {
				sev, sum := severity.Low, fmt.Sprintf("user %q lost sudo rights", n.Name)
				if n.Sudo {
					sev, sum = severity.High, fmt.Sprintf("user %q gained sudo rights", n.Name)
				}
				d.modified(cat, s, "sudo", strconv.FormatBool(o.Sudo), strconv.FormatBool(n.Sudo), sev, sum)
			}
			sev := severity.Low
			if n.InteractiveShell && !o.InteractiveShell {
				sev = severity.High
			}
			d.modified(cat, s, "shell", o.Shell, n.Shell, sev,
				fmt.Sprintf("login shell of %q changed %s -> %s", n.Name, o.Shell, n.Shell))
			d.modified(cat, s, "home", o.Home, n.Home, severity.Low,
				fmt.Sprintf("home of %q changed %s -> %s", n.Name, o.Home, n.Home))
			sev = severity.Medium
			if n.PasswordState == "none" {
				sev = severity.High
			}
			d.modified(cat, s, "password_state", o.PasswordState, n.PasswordState, sev,
				fmt.Sprintf("password of %q is now %s (was %s)", n.Name, n.PasswordState, o.PasswordState))
			if o.PasswordState == n.PasswordState {
				d.modified(cat, s, "password_last_change", dateString(o.PasswordLastChange),
					dateString(n.PasswordLastChange), severity.Low, fmt.Sprintf("password of %q changed", n.Name))
			}
			keyed(o.AuthorizedKeys, n.AuthorizedKeys, func(k *AuthorizedKey) string { return k.Fingerprint },
				func(k *AuthorizedKey) { d.add(newKeyChange(n, *k)) },
				func(k *AuthorizedKey) {
					d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: s, Field: "authorized_key",
						Before: k.Fingerprint, Severity: severity.Low,
						Summary: fmt.Sprintf("authorized key %s removed from %q", k.Fingerprint, n.Name)})
				}, nil)
		})
}

func newKeyChange(u *User, k AuthorizedKey) Change {
	sev := severity.High
	if u.UID == 0 {
		sev = severity.Critical
	}
	return Change{Kind: ChangeAdded, Category: CategoryAccounts, Subject: "user " + strconv.Quote(u.Name),
		Field: "authorized_key", After: k.Fingerprint, Severity: sev,
		Summary: fmt.Sprintf("new authorized key %s %s for %q in %s", k.Type, k.Fingerprint, u.Name, k.File)}
}

func dateString(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// adminGroups give their members root or root-equivalent power.
var adminGroups = map[string]bool{
	"root": true, "sudo": true, "wheel": true, "admin": true, "docker": true,
	"lxd": true, "disk": true, "shadow": true, "libvirt": true,
}

func (d *differ) groups(old, cur []Group) {
	const cat = CategoryAccounts
	keyed(old, cur, func(g *Group) string { return g.Name },
		func(g *Group) {
			sev := severity.Low
			if g.GID == 0 {
				sev = severity.High
			}
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: "group " + strconv.Quote(g.Name),
				Severity: sev, Summary: fmt.Sprintf("new group %q (gid %d)", g.Name, g.GID)})
		},
		func(g *Group) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: "group " + strconv.Quote(g.Name),
				Severity: severity.Low, Summary: fmt.Sprintf("group %q removed", g.Name)})
		},
		func(o, n *Group) {
			s := "group " + strconv.Quote(n.Name)
			om := map[string]bool{}
			for _, m := range o.Members {
				om[m] = true
			}
			for _, m := range n.Members {
				if om[m] {
					delete(om, m)
					continue
				}
				sev := severity.Medium
				if adminGroups[n.Name] {
					sev = severity.High
				}
				d.add(Change{Kind: ChangeModified, Category: cat, Subject: s, Field: "members", After: m,
					Severity: sev, Summary: fmt.Sprintf("%q added to group %q", m, n.Name)})
			}
			for _, m := range o.Members {
				if om[m] {
					d.add(Change{Kind: ChangeModified, Category: cat, Subject: s, Field: "members", Before: m,
						Severity: severity.Low, Summary: fmt.Sprintf("%q removed from group %q", m, n.Name)})
				}
			}
		})
}

func portSubject(p *Port) string {
	addr := p.Address
	if p.Family == 6 {
		addr = "[" + addr + "]"
	}
	return fmt.Sprintf("%s %s:%d", p.Protocol, addr, p.Port)
}

func (d *differ) ports(old, cur []Port) {
	const cat = CategoryPorts
	keyed(old, cur, portSubject,
		func(p *Port) {
			sev, where := severity.Medium, "local"
			if p.Exposed {
				sev, where = severity.High, "exposed"
			}
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: portSubject(p), Severity: sev,
				Summary: fmt.Sprintf("new %s listening port %s (%s)", where, portSubject(p), processLabel(p))})
		},
		func(p *Port) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: portSubject(p), Severity: severity.Info,
				Summary: fmt.Sprintf("port %s no longer listening", portSubject(p))})
		},
		func(o, n *Port) {
			if o.Exe != "" && n.Exe != "" {
				d.modified(cat, portSubject(n), "exe", o.Exe, n.Exe, severity.Medium,
					fmt.Sprintf("%s now owned by %s (was %s)", portSubject(n), n.Exe, o.Exe))
			}
		})
}

func processLabel(p *Port) string {
	switch {
	case p.Exe != "":
		return fmt.Sprintf("%s, pid %d", p.Exe, p.PID)
	case p.PID != 0:
		return fmt.Sprintf("pid %d", p.PID)
	}
	return "owner unknown"
}

func (d *differ) middleware(old, cur []Middleware) {
	const cat = CategoryMiddleware
	key := func(m *Middleware) string { return m.Name + "|" + m.Exe + "|" + strings.Join(m.ConfigPaths, ",") }
	subj := func(m *Middleware) string {
		if m.Exe != "" {
			return m.Name + " (" + m.Exe + ")"
		}
		return m.Name
	}
	keyed(old, cur, key,
		func(m *Middleware) {
			sev := severity.Low
			summary := "new middleware " + m.Name
			if m.Version != "" {
				summary += " " + m.Version
			}
			var listen []string
			for _, l := range m.Listen {
				if l.Exposed {
					sev = severity.Medium
				}
				listen = append(listen, fmt.Sprintf("%s %s", l.Protocol, net.JoinHostPort(l.Address, strconv.Itoa(l.Port))))
			}
			if len(listen) > 0 {
				summary += " listening on " + strings.Join(listen, ", ")
			}
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: subj(m), Severity: sev, Summary: summary})
		},
		func(m *Middleware) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: subj(m), Severity: severity.Info,
				Summary: fmt.Sprintf("middleware %s removed", m.Name)})
		},
		func(o, n *Middleware) {
			d.modified(cat, subj(n), "version", o.Version, n.Version, severity.Info,
				fmt.Sprintf("%s %s -> %s", n.Name, o.Version, n.Version))
			d.modified(cat, subj(n), "running", strconv.FormatBool(o.Running), strconv.FormatBool(n.Running),
				severity.Info, fmt.Sprintf("%s running: %v", n.Name, n.Running))
		})
}

func (d *differ) tasks(old, cur []ScheduledTask) {
	const cat = CategoryScheduledTasks
	key := func(t *ScheduledTask) string {
		return strings.Join([]string{t.Type, t.Source, t.User, t.Schedule, t.Command, t.Unit}, "\x00")
	}
	subj := func(t *ScheduledTask) string { return t.Type + " " + t.Source }
	keyed(old, cur, key,
		func(t *ScheduledTask) {
			sev := severity.High
			if t.Type == "at" {
				sev = severity.Medium
			}
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: subj(t), Severity: sev,
				Summary: fmt.Sprintf("new %s task for %s: %s %s (%s)", t.Type, t.User, t.Schedule, t.Command, t.Source)})
		},
		func(t *ScheduledTask) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: subj(t), Severity: severity.Low,
				Summary: fmt.Sprintf("%s task removed: %s %s (%s)", t.Type, t.Schedule, t.Command, t.Source)})
		},
		func(o, n *ScheduledTask) {
			d.modified(cat, subj(n), "enabled", strconv.FormatBool(o.Enabled), strconv.FormatBool(n.Enabled),
				severity.Medium, fmt.Sprintf("%s task %s enabled: %v", n.Type, n.Command, n.Enabled))
		})
}

func (d *differ) startup(old, cur []StartupItem) {
	const cat = CategoryStartupItems
	key := func(s *StartupItem) string { return s.Type + "\x00" + s.Source + "\x00" + s.Name }
	subj := func(s *StartupItem) string { return s.Type + " " + s.Name }
	keyed(old, cur, key,
		func(s *StartupItem) {
			sev := severity.High
			switch s.Type {
			case "ld_so_preload":
				sev = severity.Critical
			case "kernel_module":
				sev = severity.Medium
			}
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: subj(s), Severity: sev,
				Summary: fmt.Sprintf("new %s startup item %q (%s)", s.Type, s.Name, s.Source)})
		},
		func(s *StartupItem) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: subj(s), Severity: severity.Low,
				Summary: fmt.Sprintf("%s startup item %q removed", s.Type, s.Name)})
		},
		func(o, n *StartupItem) {
			d.modified(cat, subj(n), "command", o.Command, n.Command, severity.High,
				fmt.Sprintf("command of %s %q changed to %s", n.Type, n.Name, n.Command))
			d.modified(cat, subj(n), "user", o.User, n.User, severity.Medium,
				fmt.Sprintf("%s %q now runs as %q", n.Type, n.Name, n.User))
			sev := severity.Low
			if n.Enabled {
				sev = severity.Medium
			}
			d.modified(cat, subj(n), "enabled", strconv.FormatBool(o.Enabled), strconv.FormatBool(n.Enabled),
				sev, fmt.Sprintf("%s %q enabled: %v", n.Type, n.Name, n.Enabled))
		})
}

func (d *differ) packages(old, cur []Package) {
	const cat = CategoryPackages
	key := func(p *Package) string { return p.Type + "\x00" + p.Name + "\x00" + p.Arch }
	subj := func(p *Package) string {
		if p.Arch != "" {
			return p.Type + " " + p.Name + ":" + p.Arch
		}
		return p.Type + " " + p.Name
	}
	keyed(old, cur, key,
		func(p *Package) {
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: subj(p), Severity: severity.Info,
				After: p.Version, Summary: fmt.Sprintf("package %s %s installed", p.Name, p.Version)})
		},
		func(p *Package) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: subj(p), Severity: severity.Info,
				Before: p.Version, Summary: fmt.Sprintf("package %s %s removed", p.Name, p.Version)})
		},
		func(o, n *Package) {
			d.modified(cat, subj(n), "version", o.Version, n.Version, severity.Info,
				fmt.Sprintf("package %s %s -> %s", n.Name, o.Version, n.Version))
		})
}

func (d *differ) containers(old, cur []Container) {
	const cat = CategoryContainers
	subj := func(c *Container) string { return "container " + c.Name + " (" + shortID(c.ID) + ")" }
	keyed(old, cur, func(c *Container) string { return c.Engine + "\x00" + c.ID },
		func(c *Container) {
			sev, why := severity.Low, ""
			if r := riskyContainer(c); r != "" {
				sev, why = severity.High, " — "+r
			}
			d.add(Change{Kind: ChangeAdded, Category: cat, Subject: subj(c), Severity: sev,
				Summary: fmt.Sprintf("new container %s from %s%s", c.Name, c.Image, why)})
		},
		func(c *Container) {
			d.add(Change{Kind: ChangeRemoved, Category: cat, Subject: subj(c), Severity: severity.Info,
				Summary: fmt.Sprintf("container %s removed", c.Name)})
		},
		func(o, n *Container) {
			d.modified(cat, subj(n), "state", o.State, n.State, severity.Info,
				fmt.Sprintf("container %s %s -> %s", n.Name, o.State, n.State))
			d.modified(cat, subj(n), "image", o.Image, n.Image, severity.Low,
				fmt.Sprintf("container %s image %s -> %s", n.Name, o.Image, n.Image))
		})
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// riskyContainer names what makes a container able to reach the host, or
// returns "".
func riskyContainer(c *Container) string {
	var r []string
	if c.Privileged {
		r = append(r, "privileged")
	}
	if c.HostPID || c.HostNetwork || c.HostIPC {
		r = append(r, "host namespaces")
	}
	for _, m := range c.Mounts {
		if m.Sensitive {
			r = append(r, "mounts "+m.Source)
			break
		}
	}
	for _, cp := range c.CapAdd {
		switch strings.TrimPrefix(cp, "CAP_") {
		case "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "DAC_READ_SEARCH", "SYS_RAWIO", "ALL":
			r = append(r, "cap "+cp)
		}
	}
	return strings.Join(r, ", ")
}
