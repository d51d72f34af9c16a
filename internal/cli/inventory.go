package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/list"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/snapshot"
	"github.com/vigilsec/vigil/internal/version"
)

type inventoryOptions struct {
	root          string
	proc          string
	only          string
	diff          bool
	noSave        bool
	dockerHost    string
	cloudMetadata string
}

const defaultDockerHost = "unix:///var/run/docker.sock"

func newInventoryCommand(g *globals) *cobra.Command {
	o := &inventoryOptions{}
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Collect the host's assets, or show what changed since the last run",
		Long: `Collect the assets of this host (or of a mounted root tree): host facts, accounts,
listening ports, processes, middleware, scheduled tasks, startup items, packages and
containers. Each run is kept in the data dir; --diff prints what appeared, disappeared or
changed since the previous run.

Collectors: ` + strings.Join(list.Names(), ", "),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runInventory(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.root, "root", "/", "root of the filesystem to inventory (a mounted image or disk)")
	f.StringVar(&o.proc, "proc", "", `procfs to read processes and sockets from (default "/proc" for --root /, none otherwise)`)
	f.StringVar(&o.only, "only", "", "comma-separated collectors to run (default all)")
	f.BoolVar(&o.diff, "diff", false, "print changes since the last saved snapshot instead of the inventory")
	f.BoolVar(&o.noSave, "no-save", false, "do not update the saved snapshot")
	f.StringVar(&o.dockerHost, "docker-host", "", `Docker Engine API endpoint (default "`+defaultDockerHost+`" for the live host)`)
	f.StringVar(&o.cloudMetadata, "cloud-metadata", "", "base URL of the cloud metadata service to query (default: never query)")
	return cmd
}

func runInventory(cmd *cobra.Command, g *globals, o *inventoryOptions) error {
	if err := g.requireFormat("inventory", formatTable, formatJSON); err != nil {
		return err
	}
	root, err := filepath.Abs(o.root)
	if err != nil {
		return userErrorf("--root: %v", err)
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return userErrorf("--root %q is not a directory", o.root)
	}
	proc := o.proc
	if proc == "" && root == "/" {
		proc = "/proc"
	}
	if proc != "" {
		if _, err := os.Stat(filepath.Join(proc, "self")); err != nil && proc == "/proc" {
			return userErrorf("--proc %q: not a procfs", proc)
		}
	}
	dockerHost := o.dockerHost
	if dockerHost == "" && root == "/" {
		dockerHost = defaultDockerHost
	}
	cols, err := list.Select(list.Config{CloudMetadataURL: o.cloudMetadata}, splitList(o.only))
	if err != nil {
		return &UserError{Err: fmt.Errorf("--only: %w", err)}
	}

	rootFS, closeRoot, err := openRoot(root)
	if err != nil {
		return err
	}
	defer closeRoot()

	in := &collector.Input{
		Root:       rootFS,
		RootPath:   root,
		ProcPath:   proc,
		Live:       root == "/" && proc == "/proc",
		DockerHost: dockerHost,
		DataDir:    g.dataDir,
		Now:        time.Now,
	}
	start := time.Now()
	inv, status := collector.Run(cmd.Context(), in, cols)
	snap := &inventory.Snapshot{
		Inventory:     *inv,
		SchemaVersion: inventory.SchemaVersion,
		CollectedAt:   start.UTC(),
		AgentVersion:  version.String(),
		Root:          root,
		Status:        status,
	}
	for _, c := range cols {
		if st := status[c.Name()]; st.State == plugin.StateFailed {
			g.logger.Warn("collector failed", "collector", c.Name(), "error", st.Error)
		}
	}
	g.logger.Debug("inventory collected", "duration", time.Since(start))

	store := snapshot.New(g.dataDir)
	baseline, loadErr := store.Load(root)
	if loadErr != nil && !errors.Is(loadErr, snapshot.ErrNotFound) {
		g.logger.Warn("previous snapshot unusable; starting a new baseline", "error", loadErr)
	}
	w := cmd.OutOrStdout()
	if o.diff {
		if err := printDiff(w, g.format, baseline, snap); err != nil {
			return err
		}
	} else if err := printInventory(w, g.format, snap, selected(cols)); err != nil {
		return err
	}
	if cmd.Context().Err() != nil {
		return &ExitError{Code: 130, Err: errors.New("interrupted; snapshot not saved")}
	}
	if o.noSave {
		return nil
	}
	merged := &inventory.Snapshot{}
	if baseline != nil {
		merged = baseline
	}
	merged.MergeFrom(snap)
	if err := store.Save(root, merged); err != nil {
		g.logger.Warn("snapshot not saved; the next --diff cannot see this run", "error", err)
	}
	return nil
}

func selected(cols []collector.Collector) map[string]bool {
	m := map[string]bool{}
	for _, c := range cols {
		m[c.Name()] = true
	}
	return m
}

// openRoot returns the filesystem to inventory. Any root other than "/"
// is opened through os.Root, so that symlinks inside a mounted image
// cannot lead the collectors out of it.
func openRoot(root string) (fs.FS, func(), error) {
	if root == "/" {
		return os.DirFS("/"), func() {}, nil
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, nil, userErrorf("--root: %v", err)
	}
	return r.FS(), func() { r.Close() }, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func printInventory(w io.Writer, format string, s *inventory.Snapshot, explicit map[string]bool) error {
	if format == formatJSON {
		return writeJSON(w, s)
	}
	// Long lists (processes, packages) are summarised unless asked for
	// by name with --only, so the host's own facts stay on screen.
	full := func(cat string) bool { return len(explicit) < len(list.Names()) && explicit[cat] }
	// Skipped and failed collectors appear only in the COLLECTORS table,
	// with their reason, not as empty sections.
	ran := s.Ran
	if ran(inventory.CategoryHost) && s.Host != nil {
		printHost(w, s.Host)
	}
	if ran(inventory.CategoryAccounts) && s.Accounts != nil {
		printAccounts(w, s.Accounts)
	}
	if ran(inventory.CategoryPorts) {
		printPorts(w, s.Ports)
	}
	if ran(inventory.CategoryProcesses) {
		printProcesses(w, s.Processes, full(inventory.CategoryProcesses))
	}
	if ran(inventory.CategoryMiddleware) {
		printMiddleware(w, s.Middleware)
	}
	if ran(inventory.CategoryScheduledTasks) {
		printTasks(w, s.ScheduledTasks)
	}
	if ran(inventory.CategoryStartupItems) {
		printStartup(w, s.StartupItems)
	}
	if ran(inventory.CategoryPackages) {
		printPackages(w, s.Packages, full(inventory.CategoryPackages))
	}
	if ran(inventory.CategoryContainers) {
		printContainers(w, s.Containers)
	}
	printStatus(w, s.Status)
	return nil
}

func printHost(w io.Writer, h *inventory.Host) {
	osName := h.OS.PrettyName
	if osName == "" {
		osName = strings.TrimSpace(h.OS.Name + " " + h.OS.VersionID)
	}
	var addrs []string
	for _, ifc := range h.Interfaces {
		for _, a := range ifc.Addresses {
			s := fmt.Sprintf("%s %s/%d", ifc.Name, a.Address, a.PrefixLen)
			if a.Public {
				s += " (public)"
			}
			addrs = append(addrs, s)
		}
	}
	cloud := ""
	if c := h.Cloud; c != nil {
		cloud = strings.TrimSpace(fmt.Sprintf("%s (%s) %s %s", c.Provider, c.Source, c.InstanceID, c.Region))
	}
	kv := [][2]string{
		{"hostname", h.Hostname},
		{"os", osName},
		{"kernel", strings.TrimSpace(h.Kernel.Release + " " + h.Kernel.Arch)},
		{"boot time", timeString(h.BootTime)},
		{"machine id", h.MachineID},
		{"cloud", cloud},
		{"timezone", h.Timezone},
		{"agent", h.AgentVersion},
	}
	for i, a := range addrs {
		k := ""
		if i == 0 {
			k = "addresses"
		}
		kv = append(kv, [2]string{k, a})
	}
	fmt.Fprintln(w, "HOST")
	for _, p := range kv {
		if p[1] != "" {
			fmt.Fprintf(w, "  %-10s  %s\n", p[0], truncate(p[1], termWidth-14))
		}
	}
	fmt.Fprintln(w)
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return ""
}

func printAccounts(w io.Writer, a *inventory.Accounts) {
	var root, sudo, keys int
	for _, u := range a.Users {
		if u.Privileged {
			root++
		}
		if u.Sudo {
			sudo++
		}
		keys += len(u.AuthorizedKeys)
	}
	t := newTable(fmt.Sprintf("USERS (%d users, %d with uid 0, %d with sudo, %d authorized keys; %d groups)",
		len(a.Users), root, sudo, keys, len(a.Groups)),
		column{"NAME", 16}, column{"UID", 6}, column{"SHELL", 18}, column{"ROOT", 4}, column{"SUDO", 4},
		column{"PASSWORD", 14}, column{"KEYS", 4}, column{"LAST LOGIN", 0})
	for _, u := range a.Users {
		pw := u.PasswordState
		if u.PasswordScheme != "" {
			pw += " " + u.PasswordScheme
		}
		last := ""
		if u.LastLogin != nil {
			last = strings.TrimSpace(timeString(u.LastLogin.Time) + " " + u.LastLogin.Host)
		}
		nkeys := ""
		if len(u.AuthorizedKeys) > 0 {
			nkeys = strconv.Itoa(len(u.AuthorizedKeys))
		}
		t.add(u.Name, strconv.Itoa(u.UID), u.Shell, yes(u.Privileged), yes(u.Sudo), pw, nkeys, last)
	}
	t.render(w)
}

func printPorts(w io.Writer, ports []inventory.Port) {
	t := newTable(fmt.Sprintf("LISTENING PORTS (%d)", len(ports)),
		column{"PROTO", 5}, column{"ADDRESS", 30}, column{"PORT", 5}, column{"PID", 7},
		column{"EXPOSED", 7}, column{"PROCESS", 0})
	for _, p := range ports {
		proto := p.Protocol + strconv.Itoa(p.Family)
		if p.Family == 4 {
			proto = p.Protocol
		} else {
			proto = p.Protocol + "6"
		}
		pid, exe := "", p.Exe
		if p.PID != 0 {
			pid = strconv.Itoa(p.PID)
		}
		if exe == "" {
			exe = p.Process
		}
		t.add(proto, p.Address, strconv.Itoa(p.Port), pid, yes(p.Exposed), exe)
	}
	t.render(w)
}

func printProcesses(w io.Writer, procs []inventory.Process, full bool) {
	if !full {
		var deleted, memfd, inContainer int
		for _, p := range procs {
			if p.ExeDeleted {
				deleted++
			}
			if p.ExeMemfd {
				memfd++
			}
			if p.ContainerID != "" {
				inContainer++
			}
		}
		fmt.Fprintf(w, "PROCESSES: %d, %d in containers, %d deleted exe, %d memfd exe (--only processes lists them)\n\n",
			len(procs), inContainer, deleted, memfd)
		return
	}
	t := newTable(fmt.Sprintf("PROCESSES (%d)", len(procs)),
		column{"PID", 7}, column{"PPID", 7}, column{"USER", 10}, column{"STARTED", 20}, column{"FLAGS", 7},
		column{"COMMAND", 0})
	for _, p := range procs {
		var flags []string
		if p.ExeDeleted {
			flags = append(flags, "del")
		}
		if p.ExeMemfd {
			flags = append(flags, "memfd")
		}
		if p.ContainerID != "" {
			flags = append(flags, "ctr")
		}
		t.add(strconv.Itoa(p.PID), strconv.Itoa(p.PPID), p.User, timeString(p.StartTime),
			strings.Join(flags, ","), p.Cmdline)
	}
	t.render(w)
}

func printMiddleware(w io.Writer, mws []inventory.Middleware) {
	t := newTable(fmt.Sprintf("MIDDLEWARE (%d)", len(mws)),
		column{"NAME", 12}, column{"VERSION", 24}, column{"FROM", 9}, column{"PID", 7},
		column{"LISTEN", 20}, column{"CONFIG", 0})
	for _, m := range mws {
		pid := ""
		if m.Running {
			pid = strconv.Itoa(m.PID)
		} else {
			pid = "stopped"
		}
		var listen []string
		for _, l := range m.Listen {
			listen = append(listen, fmt.Sprintf("%s:%d", l.Address, l.Port))
		}
		t.add(m.Name, m.Version, m.VersionSource, pid, strings.Join(listen, ","), strings.Join(m.ConfigPaths, ","))
	}
	t.render(w)
}

func printTasks(w io.Writer, tasks []inventory.ScheduledTask) {
	t := newTable(fmt.Sprintf("SCHEDULED TASKS (%d)", len(tasks)),
		column{"TYPE", 13}, column{"USER", 8}, column{"SCHEDULE", 18}, column{"COMMAND", 28}, column{"SOURCE", 0})
	for _, s := range tasks {
		t.add(s.Type, s.User, s.Schedule, s.Command, s.Source)
	}
	t.render(w)
}

func printStartup(w io.Writer, items []inventory.StartupItem) {
	t := newTable(fmt.Sprintf("STARTUP ITEMS (%d)", len(items)),
		column{"TYPE", 13}, column{"NAME", 24}, column{"ON", 3}, column{"USER", 8}, column{"COMMAND", 0})
	for _, s := range items {
		cmd := s.Command
		if cmd == "" {
			cmd = s.Source
		}
		t.add(s.Type, s.Name, yes(s.Enabled), s.User, cmd)
	}
	t.render(w)
}

func printPackages(w io.Writer, pkgs []inventory.Package, full bool) {
	if !full {
		byType := map[string]int{}
		for _, p := range pkgs {
			byType[p.Type]++
		}
		var parts []string
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range byType {
				if !yield(k) {
					return
				}
			}
		}) {
			parts = append(parts, fmt.Sprintf("%d %s", byType[k], k))
		}
		if len(parts) == 0 {
			parts = []string{"none"}
		}
		fmt.Fprintf(w, "PACKAGES: %s (--only packages lists them)\n\n", strings.Join(parts, ", "))
		return
	}
	t := newTable(fmt.Sprintf("PACKAGES (%d)", len(pkgs)),
		column{"TYPE", 4}, column{"NAME", 32}, column{"VERSION", 30}, column{"ARCH", 7}, column{"SOURCE", 0})
	for _, p := range pkgs {
		t.add(p.Type, p.Name, p.Version, p.Arch, p.SourceName)
	}
	t.render(w)
}

func printContainers(w io.Writer, cs []inventory.Container) {
	t := newTable(fmt.Sprintf("CONTAINERS (%d)", len(cs)),
		column{"ID", 12}, column{"NAME", 18}, column{"IMAGE", 20}, column{"STATE", 8}, column{"RISK", 0})
	for _, c := range cs {
		var risk []string
		if c.Privileged {
			risk = append(risk, "privileged")
		}
		if len(c.CapAdd) > 0 {
			risk = append(risk, "+"+strings.Join(c.CapAdd, ",+"))
		}
		for _, ns := range []struct {
			on   bool
			name string
		}{{c.HostNetwork, "net"}, {c.HostPID, "pid"}, {c.HostIPC, "ipc"}, {c.HostUTS, "uts"}} {
			if ns.on {
				risk = append(risk, "host-"+ns.name)
			}
		}
		for _, m := range c.Mounts {
			if m.Sensitive {
				risk = append(risk, "mount:"+m.Source)
			}
		}
		id := c.ID
		if len(id) > 12 {
			id = id[:12]
		}
		t.add(id, c.Name, c.Image, c.State, strings.Join(risk, " "))
	}
	t.render(w)
}

func printStatus(w io.Writer, status map[string]plugin.Status) {
	t := newTable("COLLECTORS", column{"NAME", 16}, column{"STATE", 9}, column{"NOTE", 0})
	for _, c := range inventory.Categories {
		st, ok := status[c]
		if !ok {
			continue
		}
		t.add(c, st.State.String(), st.Error)
	}
	t.render(w)
}

type diffReport struct {
	Baseline    *time.Time         `json:"baseline"`
	CollectedAt time.Time          `json:"collected_at"`
	Changes     []inventory.Change `json:"changes"`
}

func printDiff(w io.Writer, format string, old, cur *inventory.Snapshot) error {
	rep := diffReport{CollectedAt: cur.CollectedAt, Changes: []inventory.Change{}}
	if old != nil {
		t := old.CollectedAt
		rep.Baseline = &t
		if ch := inventory.Diff(old, cur); len(ch) > 0 {
			rep.Changes = ch
		}
	}
	if format == formatJSON {
		return writeJSON(w, rep)
	}
	if old == nil {
		fmt.Fprintln(w, "No earlier snapshot: this run is saved as the baseline for the next --diff.")
		return nil
	}
	if len(rep.Changes) == 0 {
		fmt.Fprintf(w, "No changes since %s.\n", timeString(old.CollectedAt))
		return nil
	}
	t := newTable(fmt.Sprintf("CHANGES SINCE %s (%d)", timeString(old.CollectedAt), len(rep.Changes)),
		column{"SEVERITY", 8}, column{"CHANGE", 7}, column{"CATEGORY", 15}, column{"WHAT", 0})
	t.wrapLast = true
	for _, c := range rep.Changes {
		t.add(c.Severity.String(), c.Kind.String(), c.Category, c.Summary)
	}
	t.render(w)
	return nil
}
