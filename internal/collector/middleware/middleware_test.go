package middleware

import (
	"archive/zip"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// writeJar writes a jar holding the given entries under dir/rel.
func writeJar(t *testing.T, dir, rel string, entries map[string]string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range entries {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// catalinaJar is shaped like Tomcat's lib/catalina.jar.
func catalinaJar(version string) map[string]string {
	return map[string]string{
		"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nBundle-Name: tomcat-catalina\r\n" +
			"Implementation-Title: Apache Tomcat\r\nImplementation-Vendor: Apache Software Foundation\r\n" +
			"Implementation-Version: " + version + "\r\nSpecification-Version: 9.0\r\n\r\n",
		"org/apache/catalina/util/ServerInfo.properties": "# Licensed to the Apache Software Foundation (ASF)\n" +
			"server.info=Apache Tomcat/" + version + "\nserver.number=" + version + ".0\n" +
			"server.built=Nov 28 2023 15:02:11 UTC\n",
		"org/apache/catalina/startup/Bootstrap.class": "\xca\xfe\xba\xbe",
	}
}

func proc(pid, ppid int, name, exe, user string, args ...string) inventory.Process {
	return inventory.Process{PID: pid, PPID: ppid, Name: name, Exe: exe, User: user, Args: args}
}

func deb(name, version, source string) inventory.Package {
	return inventory.Package{Name: name, Version: version, SourceName: source, Type: "deb"}
}

// debianPrior is what the processes, ports and packages collectors
// report on a Debian 12 host running nginx, redis, postgresql, tomcat and
// a few applications.
func debianPrior() *inventory.Inventory {
	tomcatArgs := []string{"/usr/lib/jvm/default-java/bin/java",
		"-Djava.util.logging.config.file=/var/lib/tomcat9/conf/logging.properties",
		"-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager", "-Djava.awt.headless=true",
		"-classpath", "/usr/share/tomcat9/bin/bootstrap.jar:/usr/share/tomcat9/bin/tomcat-juli.jar",
		"-Dcatalina.base=/var/lib/tomcat9", "-Dcatalina.home=/usr/share/tomcat9",
		"-Djava.io.tmpdir=/tmp", "org.apache.catalina.startup.Bootstrap", "start"}
	return &inventory.Inventory{
		Processes: []inventory.Process{
			proc(1, 0, "init", "/usr/sbin/init", "root", "/sbin/init"),
			proc(100, 1, "nginx", "/usr/sbin/nginx", "root", "nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"),
			proc(101, 100, "nginx", "/usr/sbin/nginx", "www-data", "nginx: worker process"),
			proc(102, 100, "nginx", "/usr/sbin/nginx", "www-data", "nginx: worker process"),
			proc(200, 1, "redis-server", "/usr/bin/redis-check-rdb", "redis", "/usr/bin/redis-server 127.0.0.1:6379"),
			proc(300, 1, "postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres",
				"/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/15/main",
				"-c", "config_file=/etc/postgresql/15/main/postgresql.conf"),
			proc(301, 300, "postgres", "/usr/lib/postgresql/15/bin/postgres", "postgres", "postgres: 15/main: checkpointer "),
			proc(400, 1, "java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "tomcat", tomcatArgs...),
			proc(500, 1, "java", "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "tomcat",
				"/usr/bin/java", "-Dcatalina.base=/opt/tomcat", "-Dcatalina.home=/opt/tomcat",
				"-classpath", "/opt/tomcat/bin/bootstrap.jar", "org.apache.catalina.startup.Bootstrap", "start"),
			{PID: 600, PPID: 1, Name: "java", Exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", User: "app",
				CWD: "/srv/app", Args: []string{"java", "-Xmx512m", "-jar", "app.jar", "--server.port=8081"}},
			proc(700, 1, "gunicorn", "/usr/bin/python3.11", "www-data",
				"/usr/bin/python3", "/usr/local/bin/gunicorn", "-w", "2", "app:app"),
			proc(701, 700, "gunicorn", "/usr/bin/python3.11", "www-data",
				"/usr/bin/python3", "/usr/local/bin/gunicorn", "-w", "2", "app:app"),
			proc(702, 1, "python3", "/usr/bin/python3.11", "root", "python3", "-m", "http.server", "9000"),
			proc(703, 1, "python3", "/usr/bin/python3.11", "root", "python3"),
			proc(800, 1, "node", "/usr/bin/node", "web", "node", "--max-old-space-size=256", "/srv/web/server.js"),
			proc(900, 1, "bash", "/usr/bin/bash", "root", "-bash"),
		},
		Ports: []inventory.Port{
			{Protocol: "tcp", Family: 4, Address: "0.0.0.0", Port: 80, PID: 100, PIDs: []int{100, 101, 102}, Exposed: true},
			{Protocol: "tcp", Family: 6, Address: "::", Port: 80, PID: 100, PIDs: []int{100, 101, 102}, Exposed: true},
			{Protocol: "tcp", Family: 4, Address: "127.0.0.1", Port: 6379, PID: 200},
			{Protocol: "tcp", Family: 4, Address: "127.0.0.1", Port: 5432, PID: 300},
			{Protocol: "tcp", Family: 6, Address: "::", Port: 8080, PID: 400, Exposed: true},
			{Protocol: "tcp", Family: 6, Address: "::", Port: 8081, PID: 600, Exposed: true},
			{Protocol: "tcp", Family: 4, Address: "0.0.0.0", Port: 8000, PID: 701, PIDs: []int{700, 701}, Exposed: true},
			{Protocol: "tcp", Family: 4, Address: "127.0.0.1", Port: 22, PID: 1},
		},
		Packages: []inventory.Package{
			deb("bash", "5.2.15-2+b2", ""),
			deb("docker.io", "20.10.24+dfsg1-1+b3", ""),
			deb("libtomcat9-java", "9.0.70-2", "tomcat9"),
			deb("memcached", "1.6.18-1", ""),
			deb("nginx", "1.22.1-9", ""),
			deb("nginx-common", "1.22.1-9", "nginx"),
			deb("php8.2-fpm", "8.2.7-1~deb12u1", "php8.2"),
			deb("postgresql-15", "15.5-0+deb12u1", ""),
			deb("redis-server", "5:7.0.15-1~deb12u1", "redis"),
			deb("redis-tools", "5:7.0.15-1~deb12u1", "redis"),
			deb("tomcat9", "9.0.70-2", ""),
		},
	}
}

var debianWant = []inventory.Middleware{
	{Name: "docker", Kind: "container", Version: "20.10.24+dfsg1-1+b3", VersionSource: "dpkg", Package: "docker.io"},
	{Name: "java", Kind: "app", Version: "2.3.1", VersionSource: "manifest", PID: 600,
		Exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", User: "app", Running: true,
		Listen:  []inventory.ListenAddr{{Protocol: "tcp", Address: "::", Port: 8081, Exposed: true}},
		Details: map[string]string{"jar": "app.jar"}},
	{Name: "memcached", Kind: "cache", Version: "1.6.18-1", VersionSource: "dpkg", Package: "memcached",
		ConfigPaths: []string{"/etc/memcached.conf"}},
	{Name: "nginx", Kind: "web", Version: "1.22.1-9", VersionSource: "dpkg", Package: "nginx", PID: 100,
		Exe: "/usr/sbin/nginx", User: "root", Running: true, ConfigPaths: []string{"/etc/nginx/nginx.conf"},
		Listen: []inventory.ListenAddr{
			{Protocol: "tcp", Address: "0.0.0.0", Port: 80, Exposed: true},
			{Protocol: "tcp", Address: "::", Port: 80, Exposed: true},
		}},
	{Name: "node", Kind: "app", PID: 800, Exe: "/usr/bin/node", User: "web", Running: true,
		Details: map[string]string{"script": "/srv/web/server.js"}},
	{Name: "php-fpm", Kind: "runtime", Version: "8.2.7-1~deb12u1", VersionSource: "dpkg", Package: "php8.2-fpm",
		ConfigPaths: []string{"/etc/php/8.2/fpm/php-fpm.conf"}},
	{Name: "postgresql", Kind: "database", Version: "15.5-0+deb12u1", VersionSource: "dpkg", Package: "postgresql-15",
		PID: 300, Exe: "/usr/lib/postgresql/15/bin/postgres", User: "postgres", Running: true,
		ConfigPaths: []string{"/etc/postgresql/15/main/postgresql.conf"},
		Listen:      []inventory.ListenAddr{{Protocol: "tcp", Address: "127.0.0.1", Port: 5432}}},
	{Name: "python", Kind: "app", PID: 700, Exe: "/usr/bin/python3.11", User: "www-data", Running: true,
		Listen:  []inventory.ListenAddr{{Protocol: "tcp", Address: "0.0.0.0", Port: 8000, Exposed: true}},
		Details: map[string]string{"script": "/usr/local/bin/gunicorn"}},
	{Name: "python", Kind: "app", PID: 702, Exe: "/usr/bin/python3.11", User: "root", Running: true,
		Details: map[string]string{"module": "http.server"}},
	{Name: "redis", Kind: "cache", Version: "5:7.0.15-1~deb12u1", VersionSource: "dpkg", Package: "redis-server",
		PID: 200, Exe: "/usr/bin/redis-check-rdb", User: "redis", Running: true,
		ConfigPaths: []string{"/etc/redis/redis.conf"},
		Listen:      []inventory.ListenAddr{{Protocol: "tcp", Address: "127.0.0.1", Port: 6379}}},
	{Name: "tomcat", Kind: "web", Version: "9.0.70-2", VersionSource: "dpkg", Package: "tomcat9", PID: 400,
		Exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", User: "tomcat", Running: true,
		ConfigPaths: []string{"/var/lib/tomcat9/conf/server.xml"},
		Listen:      []inventory.ListenAddr{{Protocol: "tcp", Address: "::", Port: 8080, Exposed: true}}},
	{Name: "tomcat", Kind: "web", Version: "10.1.16", VersionSource: "manifest", PID: 500,
		Exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", User: "tomcat", Running: true,
		ConfigPaths: []string{"/opt/tomcat/conf/server.xml"},
		Details:     map[string]string{"server_number": "10.1.16.0"}},
}

// debianRoot unpacks the Debian fixture and adds the jars.
func debianRoot(t *testing.T) string {
	dir := testutil.TxtarToDir(t, "testdata/debian.txtar")
	writeJar(t, dir, "usr/share/tomcat9/lib/catalina.jar", catalinaJar("9.0.70"))
	writeJar(t, dir, "opt/tomcat/lib/catalina.jar", catalinaJar("10.1.16"))
	writeJar(t, dir, "srv/app/app.jar", map[string]string{
		"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n" +
			"Implementation-Title: orders\r\nImplementation-Version: 2.3.1\r\n\r\n",
		"META-INF/maven/com.example/orders/pom.properties": "artifactId=orders\ngroupId=com.example\nversion=2.3.1-SNAPSHOT\n",
	})
	return dir
}

func TestCollect(t *testing.T) {
	debian := debianRoot(t)

	noPackages := debianPrior()
	noPackages.Packages = nil
	noPackages.Processes = noPackages.Processes[:4] // init and nginx
	noPackages.Ports = nil

	// A memcached in a container, seen through a procfs copy: its
	// executable through <proc>/<pid>/exe, its config in <proc>/<pid>/root.
	procDir := t.TempDir()
	writeFile(t, procDir, "4242/exe", "\x7fELF... memcached 1.6.21 ...")
	writeFile(t, procDir, "4242/root/etc/memcached.conf", "-m 64\n")
	inContainer := &inventory.Inventory{
		Processes: []inventory.Process{{PID: 4242, PPID: 4200, Name: "memcached", Exe: "/usr/bin/memcached",
			User: "11211", Args: []string{"memcached", "-m", "64"}, ContainerID: "6c3b1f0e2a1d"}},
		Packages: []inventory.Package{deb("memcached", "1.6.18-1", "")},
	}

	rocky := testutil.TxtarToDir(t, "testdata/rocky.txtar")
	alpine := testutil.TxtarToDir(t, "testdata/alpine.txtar")
	rpm := func(name, version string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Type: "rpm"}
	}

	tests := []struct {
		name     string
		root     string
		procPath string
		prior    *inventory.Inventory
		want     []inventory.Middleware
	}{
		{name: "debian", root: debian, prior: debianPrior(), want: debianWant},
		{
			name: "debian_without_packages_inventory", root: debian, prior: noPackages,
			want: []inventory.Middleware{{Name: "nginx", Kind: "web", Version: "1.22.1", VersionSource: "binary",
				Package: "nginx", PID: 100, Exe: "/usr/sbin/nginx", User: "root", Running: true,
				ConfigPaths: []string{"/etc/nginx/nginx.conf"}}},
		},
		{
			name: "in_container", root: debian, procPath: procDir, prior: inContainer,
			want: []inventory.Middleware{
				{Name: "memcached", Kind: "cache", Version: "1.6.21", VersionSource: "binary", PID: 4242,
					Exe: "/usr/bin/memcached", User: "11211", Running: true, ConfigPaths: []string{"/etc/memcached.conf"},
					Details: map[string]string{"container_id": "6c3b1f0e2a1d"}},
				{Name: "memcached", Kind: "cache", Version: "1.6.18-1", VersionSource: "dpkg", Package: "memcached",
					ConfigPaths: []string{"/etc/memcached.conf"}},
			},
		},
		{
			name: "rocky", root: rocky,
			prior: &inventory.Inventory{
				Processes: []inventory.Process{
					proc(10, 1, "nginx", "/usr/sbin/nginx", "root", "nginx: master process /usr/sbin/nginx"),
					proc(20, 1, "nginx", "/usr/local/nginx/sbin/nginx", "root",
						"nginx: master process /usr/local/nginx/sbin/nginx -c /usr/local/nginx/conf/nginx.conf"),
				},
				Packages: []inventory.Package{rpm("nginx", "1:1.20.1-14.el9_2.1"), rpm("mysql-server", "8.0.36-1.el9_3")},
			},
			want: []inventory.Middleware{
				{Name: "mysql", Kind: "database", Version: "8.0.36-1.el9_3", VersionSource: "rpm", Package: "mysql-server",
					ConfigPaths: []string{"/etc/my.cnf"}},
				{Name: "nginx", Kind: "web", Version: "1:1.20.1-14.el9_2.1", VersionSource: "rpm", Package: "nginx",
					PID: 10, Exe: "/usr/sbin/nginx", User: "root", Running: true, ConfigPaths: []string{"/etc/nginx/nginx.conf"}},
				{Name: "nginx", Kind: "web", Version: "1.25.3", VersionSource: "binary", PID: 20,
					Exe: "/usr/local/nginx/sbin/nginx", User: "root", Running: true,
					ConfigPaths: []string{"/usr/local/nginx/conf/nginx.conf"}},
			},
		},
		{
			name: "alpine", root: alpine,
			prior: &inventory.Inventory{
				Processes: []inventory.Process{
					proc(7, 1, "nginx", "/usr/sbin/nginx", "root", "nginx: master process /usr/sbin/nginx"),
				},
				Packages: []inventory.Package{
					{Name: "nginx", Version: "1.24.0-r15", Type: "apk"},
					{Name: "redis", Version: "7.2.4-r0", Type: "apk"},
				},
			},
			want: []inventory.Middleware{
				{Name: "nginx", Kind: "web", Version: "1.24.0-r15", VersionSource: "apk", Package: "nginx", PID: 7,
					Exe: "/usr/sbin/nginx", User: "root", Running: true, ConfigPaths: []string{"/etc/nginx/nginx.conf"}},
				{Name: "redis", Kind: "cache", Version: "7.2.4-r0", VersionSource: "apk", Package: "redis",
					ConfigPaths: []string{"/etc/redis.conf"}},
			},
		},
		{name: "nothing", root: debian, prior: nil, want: []inventory.Middleware{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &collector.Input{Root: os.DirFS(tc.root), RootPath: tc.root, ProcPath: tc.procPath, Prior: tc.prior}
			inv, err := New().Collect(context.Background(), in)
			if err != nil {
				t.Fatalf("Collect() error = %v", err)
			}
			if diff := cmp.Diff(tc.want, inv.Middleware); diff != "" {
				t.Errorf("middleware mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func writeFile(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestCollectCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dir := debianRoot(t)
	_, err := New().Collect(ctx, &collector.Input{Root: os.DirFS(dir), RootPath: dir, Prior: debianPrior()})
	if err == nil {
		t.Fatal("Collect() with a canceled context succeeded")
	}
	if st := plugin.StatusFromErr(err); st.State != plugin.StateFailed {
		t.Errorf("state = %v, want failed", st.State)
	}
}
