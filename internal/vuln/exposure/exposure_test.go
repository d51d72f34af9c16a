package exposure

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/testutil"
)

// symlinks creates links (path under dir -> target), which txtar cannot
// hold.
func symlinks(t *testing.T, dir string, links map[string]string) {
	t.Helper()
	for name, target := range links {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
}

type verdict struct {
	Exposed bool
	Why     string
}

func check(t *testing.T, idx *Index, tests []struct {
	name string
	pkg  inventory.Package
	want verdict
}) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got verdict
			got.Exposed, got.Why = idx.Exposure(tc.pkg)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Exposure(%s) (-want +got):\n%s", tc.pkg.Name, diff)
			}
		})
	}
}

func deb(name, arch string) inventory.Package {
	return inventory.Package{Name: name, Version: "1", Arch: arch, Type: "deb", Source: "/var/lib/dpkg/status"}
}

func TestExposureDebian(t *testing.T) {
	root := testutil.TxtarToDir(t, "testdata/root-debian.txtar")
	symlinks(t, root, map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"})
	proc := testutil.TxtarToDir(t, "testdata/proc-debian.txtar")
	const hostNS, containerNS = "mnt:[4026531841]", "mnt:[4026532311]"
	links := map[string]string{}
	for pid, exe := range map[string]string{
		"1": "/usr/lib/systemd/systemd", "640": "/usr/sbin/mariadbd", "812": "/usr/sbin/nginx",
		"813": "/usr/sbin/nginx", "900": "/usr/bin/bash", "950": "/usr/local/bin/app",
		"1200": "/opt/app/server", "1300": "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
		"1400": "/usr/bin/python3.11",
	} {
		links[pid+"/exe"] = exe
		links[pid+"/ns/mnt"] = hostNS
		links[pid+"/fd/0"] = "/dev/null"
	}
	links["950/ns/mnt"] = containerNS
	for fd, target := range map[string]string{
		"640/fd/20": "socket:[21001]", "812/fd/6": "socket:[20001]", "812/fd/7": "socket:[20002]",
		"813/fd/6": "socket:[20001]", "813/fd/7": "socket:[20002]", "950/fd/3": "socket:[22001]",
		"1200/fd/3": "socket:[23001]", "1300/fd/30": "socket:[24001]",
		"1300/fd/31": "/opt/tomcat/webapps/app.war", "1400/fd/5": "socket:[25001]",
	} {
		links[fd] = target
	}
	symlinks(t, proc, links)

	pkgs := []inventory.Package{
		deb("nginx-core", "amd64"), deb("libssl3", "amd64"), deb("libc6", "amd64"), deb("zlib1g", "amd64"),
		deb("libpcre2-8-0", "amd64"), deb("libsystemd0", "amd64"), deb("libtinfo6", "amd64"), deb("bash", "amd64"),
		deb("base-files", "amd64"), deb("openjdk-17-jre-headless", "amd64"), deb("ghost", "amd64"),
	}
	idx, err := New(context.Background(), Input{Root: os.DirFS(root), ProcPath: proc, Packages: pkgs})
	if err != nil {
		t.Fatal(err)
	}
	const nginx = "/usr/sbin/nginx (pid 812)"
	const nginxPorts = " and listens on 0.0.0.0:443, [::]:443"
	check(t, idx, []struct {
		name string
		pkg  inventory.Package
		want verdict
	}{
		// Not Multi-Arch: same, so nginx-core.list rather than nginx-core:amd64.list.
		{"executable", deb("nginx-core", "amd64"), verdict{true, "/usr/sbin/nginx (pid 812) listens on 0.0.0.0:443, [::]:443"}},
		{"library", deb("libssl3", "amd64"), verdict{true, nginx + " loads /usr/lib/x86_64-linux-gnu/libcrypto.so.3" + nginxPorts}},
		// libc6.list names /lib/x86_64-linux-gnu/..., maps /usr/lib/x86_64-linux-gnu/...
		{"merged_usr_list", deb("libc6", "amd64"), verdict{true, nginx + " loads /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" + nginxPorts}},
		{"merged_usr_zlib", deb("zlib1g", "amd64"), verdict{true, nginx + " loads /usr/lib/x86_64-linux-gnu/libz.so.1.2.13" + nginxPorts}},
		{"deleted_mapping", deb("libpcre2-8-0", "amd64"), verdict{true, nginx +
			" loads /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2 (deleted: replaced on disk since it was loaded)" + nginxPorts}},
		{"loopback_only", deb("libsystemd0", "amd64"), verdict{false,
			"/usr/sbin/mariadbd (pid 640) loads /usr/lib/x86_64-linux-gnu/libsystemd.so.0.35.0 and listens only on non-exposed 127.0.0.1:3306"}},
		// The container process (950) on 0.0.0.0:8080 maps its own image's
		// libtinfo, not the host's.
		{"not_listening_container_skipped", deb("libtinfo6", "amd64"), verdict{false,
			"/usr/bin/bash (pid 900) loads /usr/lib/x86_64-linux-gnu/libtinfo.so.6.4 and does not listen"}},
		{"merged_usr_exe_not_listening", deb("bash", "amd64"), verdict{false, "/usr/bin/bash (pid 900) runs it but does not listen"}},
		{"not_loaded", deb("base-files", "amd64"), verdict{}},
		{"jvm", deb("openjdk-17-jre-headless", "amd64"), verdict{true,
			"/usr/lib/jvm/java-17-openjdk-amd64/bin/java (pid 1300) listens on [::]:8443"}},
		{"no_file_list", deb("ghost", "amd64"), verdict{false, `exposure not assessed: no dpkg file list for "ghost"`}},
		// Not passed to New: read on first use.
		{"lazy_unlisted", inventory.Package{Name: "libsystemd0", Version: "252.33-1~deb12u1", Arch: "amd64", Type: "deb"},
			verdict{false, "/usr/sbin/mariadbd (pid 640) loads /usr/lib/x86_64-linux-gnu/libsystemd.so.0.35.0 and listens only on non-exposed 127.0.0.1:3306"}},
		{"other_arch", deb("libsystemd0", "i386"), verdict{false, `exposure not assessed: no dpkg file list for "libsystemd0"`}},
		{"rpm", inventory.Package{Name: "openssl-libs", Version: "3.0.7-27.el9", Type: "rpm"}, verdict{false,
			"exposure not assessed: rpm file lists are not read"}},
		{"go_binary", inventory.Package{Name: "golang.org/x/net", Version: "v0.17.0", Type: "golang",
			Locations: []string{"/opt/app/server"}}, verdict{true, "/opt/app/server (pid 1200) listens on [::]:9090"}},
		{"jar_in_war", inventory.Package{Name: "org.apache.logging.log4j:log4j-core", Version: "2.14.1", Type: "maven",
			Locations: []string{"/opt/tomcat/webapps/app.war!WEB-INF/lib/log4j-core-2.14.1.jar"}},
			verdict{true, "/usr/lib/jvm/java-17-openjdk-amd64/bin/java (pid 1300) loads /opt/tomcat/webapps/app.war and listens on [::]:8443"}},
		{"python_extension", inventory.Package{Name: "cryptography", Version: "41.0.7", Type: "pypi",
			Locations: []string{"/usr/local/lib/python3.11/dist-packages/cryptography-41.0.7.dist-info/METADATA"}},
			verdict{true, "/usr/bin/python3.11 (pid 1400) loads /usr/local/lib/python3.11/dist-packages/cryptography/hazmat/bindings/_rust.abi3.so and listens on 0.0.0.0:8000"}},
		{"npm_not_loaded", inventory.Package{Name: "express", Version: "4.17.1", Type: "npm",
			Locations: []string{"/srv/web/node_modules/express/package.json"}}, verdict{}},
		{"no_location", inventory.Package{Name: "express", Version: "4.17.1", Type: "npm"},
			verdict{false, "exposure not assessed: no file location"}},
	})
}

func TestExposureAlpine(t *testing.T) {
	root := testutil.TxtarToDir(t, "testdata/root-alpine.txtar")
	proc := testutil.TxtarToDir(t, "testdata/proc-alpine.txtar")
	symlinks(t, proc, map[string]string{
		"12/exe": "/usr/sbin/nginx", "13/exe": "/usr/sbin/nginx",
		"12/fd/6": "socket:[30001]", "13/fd/6": "socket:[30001]",
	})
	apk := func(name, version string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: "apk", Source: "/lib/apk/db/installed"}
	}
	idx, err := New(context.Background(), Input{Root: os.DirFS(root), ProcPath: proc,
		Packages: []inventory.Package{apk("musl", "1.2.4_git20230717-r4"), apk("libssl3", "3.1.4-r5"), apk("nginx", "1.24.0-r15")}})
	if err != nil {
		t.Fatal(err)
	}
	const ports = " and listens on 0.0.0.0:80"
	check(t, idx, []struct {
		name string
		pkg  inventory.Package
		want verdict
	}{
		{"musl_in_lib", apk("musl", "1.2.4_git20230717-r4"), verdict{true, "/usr/sbin/nginx (pid 12) loads /lib/ld-musl-x86_64.so.1" + ports}},
		{"libssl", apk("libssl3", "3.1.4-r5"), verdict{true, "/usr/sbin/nginx (pid 12) loads /usr/lib/libssl.so.3" + ports}},
		{"executable", apk("nginx", "1.24.0-r15"), verdict{true, "/usr/sbin/nginx (pid 12) listens on 0.0.0.0:80"}},
		// Not passed to New: the database is read again for it.
		{"lazy", apk("zlib", "1.3.1-r0"), verdict{true, "/usr/sbin/nginx (pid 12) loads /lib/libz.so.1.3.1" + ports}},
		{"not_loaded", apk("alpine-baselayout-data", "3.4.3-r2"), verdict{}},
		{"other_version", apk("zlib", "1.2.13-r0"), verdict{false, `exposure not assessed: package "zlib" not in the apk database`}},
	})
}

func TestNormalize(t *testing.T) {
	idx := &Index{merged: map[string]bool{"lib": true, "bin": true}}
	for in, want := range map[string]string{
		"/lib/x86_64-linux-gnu/libc.so.6":     "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/usr/lib/x86_64-linux-gnu/libc.so.6": "/usr/lib/x86_64-linux-gnu/libc.so.6",
		"/bin/bash":                           "/usr/bin/bash",
		"/lib64/ld-linux-x86-64.so.2":         "/lib64/ld-linux-x86-64.so.2",
		"/library/x":                          "/library/x",
		"/lib":                                "/usr/lib",
		"/./lib//x/../libc.so.6":              "/usr/lib/libc.so.6",
		"lib/x":                               "/usr/lib/x",
		"/":                                   "/",
		"/..":                                 "/",
		"/a/.b/..c":                           "/a/.b/..c",
	} {
		if got := idx.normalize(in); got != want {
			t.Errorf("normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMapsLine(t *testing.T) {
	tests := []struct {
		name, line, wantPath string
		wantDeleted, wantOK  bool
	}{
		{"library", "7faac8a85000-7faac8aa4000 r--p 00000000 fe:00 326786                     /usr/lib/x86_64-linux-gnu/libssl.so.3",
			"/usr/lib/x86_64-linux-gnu/libssl.so.3", false, true},
		{"deleted", "7faac8b2e000-7faac8b30000 r--p 00000000 fe:00 326694   /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2 (deleted)",
			"/usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2", true, true},
		{"space_in_path", "7f00-7f10 r-xp 00001000 08:01 99 /opt/my app/lib x.so", "/opt/my app/lib x.so", false, true},
		{"anonymous", "7faac8c4a000-7faac8c4c000 rw-p 00000000 00:00 0 ", "", false, false},
		{"heap", "55d0c6a1e000-55d0c6a3f000 rw-p 00000000 00:00 0                          [heap]", "", false, false},
		{"vdso", "7ffd1c5b6000-7ffd1c5b8000 r-xp 00000000 00:00 0                          [vdso]", "", false, false},
		{"memfd", "7f00-7f10 rw-s 00000000 00:01 1042 /memfd:mariadb (deleted)", "", false, false},
		{"truncated", "7f00-7f10 r--p 00000000", "", false, false},
		{"bad_inode", "7f00-7f10 r--p 00000000 fe:00 12x /usr/lib/a.so", "", false, false},
		{"only_deleted", "7f00-7f10 r--p 00000000 fe:00 12 / (deleted)", "", false, false},
		{"empty", "", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, deleted, ok := parseMapsLine([]byte(tc.line))
			if string(p) != tc.wantPath || deleted != tc.wantDeleted || ok != tc.wantOK {
				t.Errorf("parseMapsLine(%q) = %q, %v, %v; want %q, %v, %v", tc.line, p, deleted, ok, tc.wantPath, tc.wantDeleted, tc.wantOK)
			}
		})
	}
}

func FuzzParseMapsLine(f *testing.F) {
	for _, s := range []string{
		"7faac8a85000-7faac8aa4000 r--p 00000000 fe:00 326786                     /usr/lib/x86_64-linux-gnu/libssl.so.3",
		"7faac8b2e000-7faac8b30000 r--p 00000000 fe:00 326694   /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0.11.2 (deleted)",
		"7faac8c0c000-7faac8c0d000 rw-s 00000000 00:01 1040                       /dev/zero (deleted)",
		"55d0c6a1e000-55d0c6a3f000 rw-p 00000000 00:00 0                          [heap]",
		"7f00-7f10 r-xp 00001000 08:01 99 /opt/my app/lib x.so",
		"7f00-7f10 rw-s 00000000 00:01 1042 /memfd:mariadb (deleted)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p, deleted, ok := parseMapsLine([]byte(line))
		if !ok {
			if p != nil || deleted {
				t.Fatalf("parseMapsLine(%q) = %q, %v, false", line, p, deleted)
			}
			return
		}
		// The path is the line's tail, absolute, with the deleted suffix
		// (if any) removed, and not a pseudo file.
		tail := string(p)
		if deleted {
			tail += deletedSuffix
		}
		if len(p) < 2 || p[0] != '/' || !strings.HasSuffix(line, tail) || bytes.HasPrefix(p, []byte("/memfd:")) {
			t.Fatalf("parseMapsLine(%q) = %q, %v, true", line, p, deleted)
		}
		// What precedes it is five fields with a non-zero inode.
		head := strings.FieldsFunc(line[:len(line)-len(tail)], func(r rune) bool { return r == ' ' })
		if len(head) != 5 || head[4] == "0" {
			t.Fatalf("parseMapsLine(%q): head %q", line, head)
		}
	})
}

// FuzzReadMaps checks that a maps file yields each distinct file once,
// and only lines parseMapsLine accepts.
func FuzzReadMaps(f *testing.F) {
	b, err := os.ReadFile("testdata/proc-debian.txtar")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("7f00-7f10 r--p 00000000 fe:00 1 /a\n7f10-7f20 r-xp 00001000 fe:00 1 /a\n7f20-7f30 r--p 0 fe:00 2 /b (deleted)\n7f30-7f40 r--p 0 fe:00 1 /a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		name := filepath.Join(t.TempDir(), "maps")
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for l := range bytes.Lines(data) {
			if p, _, ok := parseMapsLine(bytes.TrimSuffix(l, []byte("\n"))); ok {
				want[string(p)] = true
			}
		}
		got := map[string]bool{}
		r := procReader{}
		r.readMaps(name, func(file string, _ bool) {
			if got[file] {
				t.Fatalf("readMaps reported %q twice", file)
			}
			got[file] = true
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("readMaps (-want +got):\n%s", diff)
		}
	})
}
