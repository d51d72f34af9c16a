package cli

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

// testImage is built from the host's static busybox: there is no
// registry to pull from. (The same approach as the containers
// collector's live test.)
const testImage = "vigil-test/busybox:1"

// ensureTestImage imports testImage unless the engine already has it.
func ensureTestImage(t *testing.T) {
	t.Helper()
	if exec.Command("docker", "image", "inspect", testImage).Run() == nil {
		return
	}
	bb := testutil.RequireCommand(t, "busybox")
	f, err := elf.Open(bb)
	testutil.Require(t, "VIGIL_REQUIRE_DOCKER", err == nil, "cannot read "+bb)
	static := f.Section(".interp") == nil
	f.Close()
	testutil.Require(t, "VIGIL_REQUIRE_DOCKER", static, bb+" is not static: apt-get install busybox-static")
	bin, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))},
		{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777},
		{Name: "bin/sleep", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write(bin)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker", "import", "-", testImage)
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v\n%s", err, out)
	}
}

// run runs a command and fails the test when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// cleanup runs a command when the test ends and logs its failure.
func cleanup(t *testing.T, name string, args ...string) {
	t.Cleanup(func() {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Logf("cleanup %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	})
}

func writeRoot(t *testing.T, path, content string) {
	t.Helper()
	t.Cleanup(func() { os.Remove(path) })
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// listen opens a TCP listener on addr that is closed when the test ends,
// and returns its port.
func listen(t *testing.T, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// The JSON document is checked as a consumer outside Go sees it.
type (
	obj = map[string]any
	arr = []any
)

// field returns o[key] as T, failing the test when it is absent or of
// another JSON type.
func field[T any](t *testing.T, o obj, key string) T {
	t.Helper()
	v, ok := o[key]
	if !ok {
		t.Fatalf("key %q missing from %v", key, keys(o))
	}
	tv, ok := v.(T)
	if !ok {
		t.Fatalf("key %q is %T (%v), want %T", key, v, v, *new(T))
	}
	return tv
}

func keys(o obj) []string {
	var ks []string
	for k := range o {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// hasKeys fails when o lacks any of ks.
func hasKeys(t *testing.T, what string, o obj, ks ...string) {
	t.Helper()
	for _, k := range ks {
		if _, ok := o[k]; !ok {
			t.Errorf("%s: key %q missing (keys %v)", what, k, keys(o))
		}
	}
}

// find returns the objects of list for which match is true.
func find(t *testing.T, list arr, match func(obj) bool) []obj {
	t.Helper()
	var out []obj
	for _, v := range list {
		o, ok := v.(obj)
		if !ok {
			t.Fatalf("list element is %T, want an object", v)
		}
		if match(o) {
			out = append(out, o)
		}
	}
	return out
}

// one is find that wants exactly one match.
func one(t *testing.T, what string, list arr, match func(obj) bool) obj {
	t.Helper()
	got := find(t, list, match)
	if len(got) != 1 {
		t.Fatalf("%s: %d matches, want 1", what, len(got))
	}
	return got[0]
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestInventoryLive creates users, a key, listeners, a cron job, an
// enabled systemd service and timer, and a risky container on this host,
// then checks the JSON contract of `vigil inventory` and what --diff
// reports against a baseline taken before.
func TestInventoryLive(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireDocker(t)
	for _, c := range []string{"useradd", "userdel", "systemctl", "dpkg-query"} {
		testutil.RequireCommand(t, c)
	}
	ensureTestImage(t)

	baselineDir := t.TempDir()
	mustVigil(t, "inventory", "--format", "json", "--data-dir", baselineDir)

	pid := os.Getpid()
	rootUser := fmt.Sprintf("vgl-e2e-%d", pid)
	keyUser := fmt.Sprintf("vgl-e2e-k-%d", pid)
	// -f: userdel refuses a uid-0 user otherwise, since uid 0 runs
	// processes; the home is a path that does not exist, so that -f
	// has nothing else to remove.
	cleanup(t, "userdel", "-f", rootUser)
	run(t, "useradd", "-o", "-u", "0", "-M", "-d", "/nonexistent", "-s", "/bin/sh", rootUser)
	cleanup(t, "userdel", "-r", keyUser)
	run(t, "useradd", "-m", "-s", "/bin/bash", keyUser)
	home := "/home/" + keyUser
	if err := os.MkdirAll(home+"/.ssh", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(home+"/.ssh/authorized_keys", []byte(`no-pty `+attackerKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const attackerFP = "SHA256:gXlTxQR2/yGvHgsyXjcixl42FmX+NdW1ah+8LBuoc5s"

	port4 := listen(t, "127.0.0.1:0")
	port6 := listen(t, "[::1]:0")

	cronFile := "/etc/cron.d/" + rootUser
	writeRoot(t, cronFile, "# vigil e2e test\n*/7 * * * * root /bin/true vigil-e2e\n")

	unit := rootUser + ".service"
	timer := rootUser + ".timer"
	writeRoot(t, "/etc/systemd/system/"+unit,
		"[Unit]\nDescription=vigil e2e\n\n[Service]\nExecStart=/bin/sleep 1\n\n[Install]\nWantedBy=multi-user.target\n")
	writeRoot(t, "/etc/systemd/system/"+timer,
		"[Unit]\nDescription=vigil e2e\n\n[Timer]\nOnCalendar=hourly\n\n[Install]\nWantedBy=timers.target\n")
	// Cleanups run last-in first-out: disable before the unit files go.
	cleanup(t, "systemctl", "disable", unit, timer)
	run(t, "systemctl", "enable", unit, timer)

	cleanup(t, "docker", "rm", "-f", rootUser)
	ctrID := run(t, "docker", "run", "-d", "--network", "none", "--name", rootUser,
		"--cap-add", "SYS_ADMIN", "-v", "/etc:/host-etc:ro", testImage, "sleep", "300")
	ctrPID, err := strconv.Atoi(run(t, "docker", "inspect", "-f", "{{.State.Pid}}", rootUser))
	if err != nil || ctrPID <= 0 {
		t.Fatalf("container %s has no PID: %v", rootUser, err)
	}

	out, stderr := mustVigil(t, "inventory", "--format", "json", "--data-dir", t.TempDir())
	if stderr != "" {
		t.Logf("stderr:\n%s", stderr)
	}
	var doc obj
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}

	t.Run("status", func(t *testing.T) {
		status := field[obj](t, doc, "status")
		for _, c := range inventory.Categories {
			st := field[obj](t, status, c)
			if s := field[string](t, st, "state"); s != "succeeded" && s != "partial" {
				t.Errorf("status.%s = %v, want succeeded or partial", c, st)
			} else if s == "partial" {
				t.Logf("status.%s = %v", c, st)
			}
			if _, ok := doc[c]; !ok {
				t.Errorf("category %q ran but is missing from the output", c)
			}
		}
	})

	t.Run("host", func(t *testing.T) {
		host := field[obj](t, doc, "host")
		name, _ := os.Hostname()
		if got := field[string](t, host, "hostname"); got != name {
			t.Errorf("host.hostname = %q, want %q", got, name)
		}
		if got := field[string](t, field[obj](t, host, "os"), "id"); got != "debian" {
			t.Errorf("host.os.id = %q, want debian", got)
		}
		if field[string](t, field[obj](t, host, "kernel"), "release") == "" {
			t.Error("host.kernel.release is empty on the live host")
		}
	})

	t.Run("accounts", func(t *testing.T) {
		acc := field[obj](t, doc, "accounts")
		users := field[arr](t, acc, "users")
		if len(field[arr](t, acc, "groups")) == 0 {
			t.Error("accounts.groups is empty")
		}
		for _, u := range find(t, users, func(obj) bool { return true }) {
			hasKeys(t, "user", u, "name", "uid", "gid", "home", "shell", "privileged", "sudo", "password_state", "authorized_keys")
		}
		u := one(t, "user "+rootUser, users, func(u obj) bool { return u["name"] == rootUser })
		if num(u["uid"]) != 0 || u["privileged"] != true || u["shell"] != "/bin/sh" {
			t.Errorf("user %s = %v, want uid 0, privileged, shell /bin/sh", rootUser, u)
		}
		u = one(t, "user "+keyUser, users, func(u obj) bool { return u["name"] == keyUser })
		if u["privileged"] != false || u["sudo"] != false || u["home"] != home {
			t.Errorf("user %s = %v, want unprivileged, no sudo, home %s", keyUser, u, home)
		}
		ks := field[arr](t, u, "authorized_keys")
		if len(ks) != 1 {
			t.Fatalf("user %s has %d authorized keys, want 1: %v", keyUser, len(ks), ks)
		}
		k := ks[0].(obj)
		if k["type"] != "ssh-ed25519" || k["fingerprint"] != attackerFP || k["comment"] != "attacker@evil" ||
			k["file"] != home+"/.ssh/authorized_keys" || num(k["line"]) != 1 || !slices.Equal(strs(k["options"]), []string{"no-pty"}) {
			t.Errorf("authorized key = %v, want ssh-ed25519 %s attacker@evil with no-pty at %s/.ssh/authorized_keys:1", k, attackerFP, home)
		}
	})

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ports", func(t *testing.T) {
		ports := field[arr](t, doc, "ports")
		for _, p := range find(t, ports, func(obj) bool { return true }) {
			hasKeys(t, "port", p, "protocol", "family", "address", "port", "pid", "exe", "exposed")
		}
		for _, want := range []struct {
			family int
			addr   string
			port   int
		}{{4, "127.0.0.1", port4}, {6, "::1", port6}} {
			p := one(t, fmt.Sprintf("port %s:%d", want.addr, want.port), ports, func(p obj) bool {
				return p["protocol"] == "tcp" && num(p["port"]) == want.port && p["address"] == want.addr
			})
			if num(p["family"]) != want.family || num(p["pid"]) != pid || p["exe"] != exe || p["exposed"] != false {
				t.Errorf("port %v, want family %d, pid %d, exe %s, not exposed", p, want.family, pid, exe)
			}
		}
	})

	t.Run("processes", func(t *testing.T) {
		procs := field[arr](t, doc, "processes")
		self := one(t, "this process", procs, func(p obj) bool { return num(p["pid"]) == pid })
		hasKeys(t, "process", self, "pid", "ppid", "exe", "cmdline", "user", "start_time", "sha256")
		if self["exe"] != exe || num(self["ppid"]) != os.Getppid() || self["user"] != "root" ||
			self["sha256"] != fileSHA256(t, exe) || !strings.Contains(self["cmdline"].(string), filepath.Base(exe)) {
			t.Errorf("this process = %v, want exe %s, ppid %d, user root, its sha256", self, exe, os.Getppid())
		}
		if _, ok := self["container_id"]; ok {
			t.Errorf("this process has container_id %v, want none", self["container_id"])
		}
		c := one(t, "container process", procs, func(p obj) bool { return num(p["pid"]) == ctrPID })
		if c["container_id"] != ctrID || c["cmdline"] != "sleep 300" {
			t.Errorf("container process = %v, want container_id %s and cmdline \"sleep 300\"", c, ctrID)
		}
	})

	t.Run("packages", func(t *testing.T) {
		pkgs := field[arr](t, doc, "packages")
		for _, p := range find(t, pkgs, func(obj) bool { return true }) {
			hasKeys(t, "package", p, "name", "version", "type")
		}
		version := run(t, "dpkg-query", "-W", "-f", "${Version}", "libc6")
		p := one(t, "package libc6", pkgs, func(p obj) bool { return p["name"] == "libc6" && p["arch"] == "amd64" })
		if p["version"] != version || p["source_name"] != "glibc" || p["type"] != "deb" {
			t.Errorf("libc6 = %v, want version %s, source_name glibc, type deb", p, version)
		}
	})

	t.Run("scheduled_tasks", func(t *testing.T) {
		tasks := field[arr](t, doc, "scheduled_tasks")
		c := one(t, "cron task", tasks, func(o obj) bool { return o["source"] == cronFile })
		if c["type"] != "cron" || c["user"] != "root" || c["schedule"] != "*/7 * * * *" ||
			c["command"] != "/bin/true vigil-e2e" || num(c["line"]) != 2 || c["enabled"] != true {
			t.Errorf("cron task = %v", c)
		}
		tm := one(t, "timer", tasks, func(o obj) bool { return o["source"] == "/etc/systemd/system/"+timer })
		if tm["type"] != "systemd_timer" || tm["unit"] != unit || tm["enabled"] != true ||
			tm["schedule"] != "OnCalendar=hourly" || tm["command"] != "/bin/sleep 1" {
			t.Errorf("timer = %v, want an enabled systemd_timer of %s", tm, unit)
		}
	})

	t.Run("startup_items", func(t *testing.T) {
		items := field[arr](t, doc, "startup_items")
		s := one(t, "startup unit", items, func(o obj) bool { return o["name"] == unit })
		if s["type"] != "systemd" || s["enabled"] != true || s["command"] != "/bin/sleep 1" ||
			s["source"] != "/etc/systemd/system/"+unit {
			t.Errorf("startup item = %v, want enabled systemd %s", s, unit)
		}
	})

	t.Run("containers", func(t *testing.T) {
		ctrs := field[arr](t, doc, "containers")
		c := one(t, "container", ctrs, func(o obj) bool { return o["id"] == ctrID })
		if c["name"] != rootUser || c["image"] != testImage || c["state"] != "running" || num(c["pid"]) != ctrPID ||
			!slices.Contains(strs(c["cap_add"]), "SYS_ADMIN") {
			t.Errorf("container = %v, want %s running %s with cap_add SYS_ADMIN", c, rootUser, testImage)
		}
		m := one(t, "mount", field[arr](t, c, "mounts"), func(o obj) bool { return o["destination"] == "/host-etc" })
		if m["source"] != "/etc" || m["sensitive"] != true || m["rw"] != false {
			t.Errorf("mount = %v, want /etc read-only and sensitive", m)
		}
	})

	t.Run("middleware", func(t *testing.T) {
		mws := field[arr](t, doc, "middleware")
		d := find(t, mws, func(o obj) bool { return o["name"] == "docker" && o["running"] == true })
		if len(d) == 0 {
			t.Fatalf("no running docker middleware in %v", mws)
		}
		hasKeys(t, "middleware", d[0], "name", "kind", "version", "version_source", "pid", "exe")
	})

	t.Run("table_width", func(t *testing.T) {
		table, _ := mustVigil(t, "inventory", "--data-dir", t.TempDir(), "--no-save")
		checkWidth(t, table)
		table, _ = mustVigil(t, "inventory", "--only", "processes,packages", "--data-dir", t.TempDir(), "--no-save")
		checkWidth(t, table)
		table, _ = mustVigil(t, "inventory", "--diff", "--data-dir", baselineDir, "--no-save")
		checkWidth(t, table)
	})

	t.Run("diff", func(t *testing.T) {
		d, stderr := runDiff(t, "--data-dir", baselineDir)
		if d.Baseline == nil {
			t.Fatalf("--diff found no baseline (stderr %q)", stderr)
		}
		want := []change{
			{Kind: "added", Category: "accounts", Subject: "user " + strconv.Quote(rootUser), Severity: "critical"},
			{Kind: "added", Category: "accounts", Subject: "user " + strconv.Quote(keyUser), Severity: "high", Field: "authorized_key"},
			{Kind: "added", Category: "ports", Subject: fmt.Sprintf("tcp 127.0.0.1:%d", port4), Severity: "medium"},
			{Kind: "added", Category: "ports", Subject: fmt.Sprintf("tcp [::1]:%d", port6), Severity: "medium"},
			{Kind: "added", Category: "scheduled_tasks", Subject: "cron " + cronFile, Severity: "high"},
			{Kind: "added", Category: "scheduled_tasks", Subject: "systemd_timer /etc/systemd/system/" + timer, Severity: "high"},
			{Kind: "added", Category: "startup_items", Subject: "systemd " + unit, Severity: "high"},
			{Kind: "added", Category: "containers", Subject: fmt.Sprintf("container %s (%s)", rootUser, ctrID[:12]), Severity: "high"},
		}
		for _, w := range want {
			if !slices.Contains(d.Changes, w) {
				t.Errorf("--diff lacks %+v", w)
			}
		}
		if t.Failed() {
			t.Logf("--diff reported %+v", d.Changes)
		}
	})
}
