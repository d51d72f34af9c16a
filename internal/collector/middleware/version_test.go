package middleware

import (
	"archive/zip"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/testutil"
)

func zipBytes(t testing.TB, entries map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
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
	return buf.Bytes()
}

func TestJarVersion(t *testing.T) {
	tests := []struct {
		name        string
		entries     map[string]string
		want        string
		wantDetails map[string]string
	}{
		{name: "tomcat_serverinfo", entries: catalinaJar("9.0.70"), want: "9.0.70",
			wantDetails: map[string]string{"server_number": "9.0.70.0"}},
		{
			name: "tomcat_debian_suffix",
			entries: map[string]string{"org/apache/catalina/util/ServerInfo.properties": "server.info=Apache Tomcat/10.1.6 (Debian)\n" +
				"server.number=10.1.6.0\n"},
			want: "10.1.6", wantDetails: map[string]string{"server_number": "10.1.6.0"},
		},
		{
			// A zookeeper jar's manifest wraps long lines at 72 bytes.
			name: "manifest_continuation",
			entries: map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\r\nImplementation-Title: org.apache.zo\r\n" +
				" okeeper\r\nImplementation-Version: 3.8.3-rc1-abcdef0123456789abcdef012345\r\n 6789abcd\r\n\r\nName: x\r\nImplementation-Version: 0\r\n"},
			want: "3.8.3-rc1-abcdef0123456789abcdef0123456789abcd", wantDetails: map[string]string{},
		},
		{
			name:    "bundle_version",
			entries: map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nBundle-Version: 2.15.2\n"},
			want:    "2.15.2", wantDetails: map[string]string{},
		},
		{
			name: "pom_properties",
			entries: map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\nCreated-By: Maven JAR Plugin 3.3.0\n",
				"META-INF/maven/org.apache.kafka/kafka_2.13/pom.properties": "#Created by Apache Maven 3.8.1\nartifactId=kafka_2.13\ngroupId=org.apache.kafka\nversion=3.6.1\n"},
			want: "3.6.1", wantDetails: map[string]string{},
		},
		{name: "nothing", entries: map[string]string{"a.class": "x"}, want: "", wantDetails: map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := zipBytes(t, tc.entries)
			details := map[string]string{}
			got, err := jarVersion(bytes.NewReader(b), int64(len(b)), details)
			if err != nil {
				t.Fatalf("jarVersion() error = %v", err)
			}
			if got != tc.want {
				t.Errorf("jarVersion() = %q, want %q", got, tc.want)
			}
			if diff := cmp.Diff(tc.wantDetails, details); diff != "" {
				t.Errorf("details mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := jarVersion(strings.NewReader("not a zip"), 9, map[string]string{}); err == nil {
		t.Error("jarVersion() of a non-zip succeeded")
	}
}

// chunkedReader returns at most n bytes per Read, as a pipe might.
type chunkedReader struct {
	r *strings.Reader
	n int
}

func (c *chunkedReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func TestScanVersion(t *testing.T) {
	re := regexp.MustCompile(`nginx version: nginx/(\d+\.\d+\.\d+)`)
	marker := "nginx version: nginx/1.22.1"
	tests := []struct {
		name string
		data string
		want string
	}{
		{name: "start", data: marker + strings.Repeat("\x00", 100), want: "1.22.1"},
		// The marker straddles the first chunk boundary.
		{name: "across_chunks", data: strings.Repeat("\x00", scanChunk+scanOverlap-10) + marker + "\x00", want: "1.22.1"},
		{name: "late", data: strings.Repeat("\x01", 3*scanChunk+17) + marker, want: "1.22.1"},
		{name: "absent", data: strings.Repeat("nginx/", 1000), want: ""},
		{name: "empty", data: "", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scanVersion(&chunkedReader{strings.NewReader(tc.data), 4096}, re)
			if err != nil || got != tc.want {
				t.Errorf("scanVersion() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestGoVersion(t *testing.T) {
	// A Go program built the way Docker sets its version.
	goBin := testutil.RequireCommand(t, "go")
	dir := t.TempDir()
	writeFile(t, dir, "go.mod", "module example.com/daemon\n\ngo 1.22\n")
	writeFile(t, dir, "main.go", "package main\n\nfunc main() {}\n")
	bin := filepath.Join(dir, "daemon")
	cmd := exec.Command(goBin, "build", "-o", bin,
		"-ldflags", "-X github.com/docker/docker/dockerversion.Version=24.0.7 -X main.other=1", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		file string
		want string
	}{
		{name: "ldflags", file: bin, want: "24.0.7"},
	}
	// Debian's dockerd records its version only in -ldflags.
	if _, err := os.Stat("/usr/sbin/dockerd"); err == nil {
		if out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", "docker.io").Output(); err == nil {
			up, _, _ := strings.Cut(string(out), "-")
			tests = append(tests, struct{ name, file, want string }{"debian_dockerd", "/usr/sbin/dockerd", up})
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := goVersion(f)
			if err != nil || got != tc.want {
				t.Errorf("goVersion(%s) = %q, %v; want %q", tc.file, got, err, tc.want)
			}
		})
	}
	if _, err := goVersion(strings.NewReader("#!/bin/sh\n")); err == nil {
		t.Error("goVersion() of a shell script succeeded")
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add("Manifest-Version: 1.0\r\nImplementation-Version: 9.0.70\r\n\r\n")
	f.Add("Implementation-Title: a\n b\nBroken\n c\n\nName: x\n")
	f.Fuzz(func(t *testing.T, s string) {
		m := parseManifest(strings.NewReader(s))
		for k, v := range m {
			if strings.ContainsAny(k, "\n") || strings.Contains(v, "\n") {
				t.Fatalf("entry %q: %q spans lines", k, v)
			}
			if !strings.Contains(s, k) {
				t.Fatalf("key %q not in the input", k)
			}
		}
	})
}

func FuzzParseProperties(f *testing.F) {
	f.Add("server.info=Apache Tomcat/9.0.70\nserver.number=9.0.70.0\n# comment\n!x\n")
	f.Add("a:b\n=c\nkey = value = more\n")
	f.Fuzz(func(t *testing.T, s string) {
		lines := strings.Count(s, "\n") + 1
		m := parseProperties(strings.NewReader(s))
		if len(m) > lines {
			t.Fatalf("%d properties from %d lines", len(m), lines)
		}
		for k, v := range m {
			if k == "" || !strings.Contains(s, k) || !strings.Contains(s, v) {
				t.Fatalf("property %q=%q not from the input", k, v)
			}
		}
	})
}

func FuzzJarVersion(f *testing.F) {
	f.Add(zipBytes(f, catalinaJar("9.0.70")))
	f.Add(zipBytes(f, map[string]string{"META-INF/MANIFEST.MF": "Implementation-Version: 1\n"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		details := map[string]string{}
		v, err := jarVersion(bytes.NewReader(b), int64(len(b)), details)
		if err != nil && v != "" {
			t.Fatalf("version %q with error %v", v, err)
		}
		if len(details) > 1 {
			t.Fatalf("details %v", details)
		}
	})
}
