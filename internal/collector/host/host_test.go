package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/testutil"
	"github.com/vigilsec/vigil/internal/version"
)

func TestCollectTrees(t *testing.T) {
	tests := []struct {
		name string
		want inventory.Host
	}{
		{
			name: "debian",
			want: inventory.Host{
				Hostname: "web-01",
				OS: inventory.OSRelease{ID: "debian", Name: "Debian GNU/Linux",
					PrettyName: "Debian GNU/Linux 12 (bookworm)", Version: "12 (bookworm)",
					VersionID: "12", VersionCodename: "bookworm"},
				MachineID: "4c4c4544004b4b10804bb3c04f4e5931",
				Timezone:  "Etc/UTC",
				Cloud:     &inventory.Cloud{Provider: "aws", Source: "dmi", InstanceID: "i-0a1b2c3d4e5f67890"},
			},
		},
		{
			name: "rhel",
			want: inventory.Host{
				Hostname: "db-02.example.internal",
				OS: inventory.OSRelease{ID: "rocky", IDLike: []string{"rhel", "centos", "fedora"},
					Name: "Rocky Linux", PrettyName: "Rocky Linux 9.3 (Blue Onyx)",
					Version: "9.3 (Blue Onyx)", VersionID: "9.3"},
				MachineID: "0f3b6a0f1c3e4b7e9d2a8c5b4e3f2a1d",
				Cloud: &inventory.Cloud{Provider: "azure", Source: "dmi",
					InstanceID: "9a2f7c3b-1d4e-4f5a-8b6c-7d8e9f0a1b2c"},
			},
		},
		{
			name: "alpine",
			want: inventory.Host{
				Hostname: "alpine-builder",
				OS: inventory.OSRelease{ID: "alpine", Name: "Alpine Linux",
					PrettyName: "Alpine Linux v3.19", VersionID: "3.19.1"},
				Timezone: "Europe/Berlin",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testutil.TxtarToDir(t, "testdata/"+tt.name+".txtar")
			in := &collector.Input{Root: os.DirFS(dir), RootPath: dir}
			inv, err := New(Config{}).Collect(context.Background(), in)
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			tt.want.AgentVersion = version.String()
			tt.want.Interfaces = []inventory.Interface{}
			if diff := cmp.Diff(&tt.want, inv.Host); diff != "" {
				t.Errorf("host (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCollectLive(t *testing.T) {
	in := &collector.Input{Root: os.DirFS("/"), RootPath: "/", ProcPath: "/proc", Live: true}
	inv, err := New(Config{}).Collect(context.Background(), in)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	h := inv.Host
	wantHost, _ := os.Hostname()
	if h.Hostname != wantHost {
		t.Errorf("hostname = %q, want %q", h.Hostname, wantHost)
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	if want := unix.ByteSliceToString(u.Release[:]); h.Kernel.Release != want {
		t.Errorf("kernel release = %q, want %q", h.Kernel.Release, want)
	}
	if want := unix.ByteSliceToString(u.Machine[:]); h.Kernel.Arch != want {
		t.Errorf("kernel arch = %q, want %q", h.Kernel.Arch, want)
	}
	bootID, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if h.BootID != strings.TrimSpace(string(bootID)) || h.BootID == "" {
		t.Errorf("boot id = %q, want %q", h.BootID, bootID)
	}
	if h.BootTime.IsZero() || h.BootTime.After(time.Now()) {
		t.Errorf("boot time = %v", h.BootTime)
	}
	if h.OS.ID == "" {
		t.Errorf("no OS ID")
	}
	var lo *inventory.Interface
	for i := range h.Interfaces {
		if h.Interfaces[i].Name == "lo" {
			lo = &h.Interfaces[i]
		}
	}
	if lo == nil {
		t.Fatalf("no lo interface in %+v", h.Interfaces)
	}
	found := false
	for _, a := range lo.Addresses {
		if a.Address == "127.0.0.1" {
			found = true
			if a.Public || a.Family != 4 || a.PrefixLen != 8 {
				t.Errorf("lo address = %+v, want non-public /8 IPv4", a)
			}
		}
	}
	if !found {
		t.Errorf("127.0.0.1 not on lo: %+v", lo.Addresses)
	}
}

func TestOfflineRootNeverQueriesMetadataOrInterfaces(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	dir := testutil.TxtarToDir(t, "testdata/debian.txtar")
	c := New(Config{MetadataURL: srv.URL}).(*Collector)
	c.interfacesFn = func() ([]inventory.Interface, error) {
		t.Error("interfaces listed for an offline root")
		return nil, nil
	}
	if _, err := c.Collect(context.Background(), &collector.Input{Root: os.DirFS(dir)}); err != nil {
		t.Fatal(err)
	}
	// Without a configured URL, a live collection must not reach it either.
	if _, err := New(Config{}).Collect(context.Background(), &collector.Input{Root: os.DirFS(dir), Live: true}); err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("metadata server got %d requests, want 0", n)
	}
}

// fakeMetadata serves the paths each provider's query reads, with the
// headers the real services demand.
func fakeMetadata(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /latest/api/token", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "missing ttl", http.StatusBadRequest)
			return
		}
		w.Write([]byte("tok-123"))
	})
	aws := func(v string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-aws-ec2-metadata-token") != "tok-123" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			w.Write([]byte(v))
		}
	}
	mux.HandleFunc("GET /latest/meta-data/instance-id", aws("i-0abc"))
	mux.HandleFunc("GET /latest/meta-data/placement/region", aws("eu-west-1"))
	mux.HandleFunc("GET /latest/meta-data/placement/availability-zone", aws("eu-west-1b"))
	mux.HandleFunc("GET /computeMetadata/v1/instance/id", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		w.Write([]byte("4520031799277581759"))
	})
	mux.HandleFunc("GET /computeMetadata/v1/instance/zone", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("projects/123456/zones/us-central1-a"))
	})
	mux.HandleFunc("GET /metadata/instance/compute", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata") != "true" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Write([]byte(`{"vmId":"02aab8a4-74ef-476e-8182-f6d2ba4166a6","location":"westeurope","zone":"1"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestQueryMetadata(t *testing.T) {
	srv := fakeMetadata(t)
	tests := []struct {
		name string
		dmi  *inventory.Cloud
		want *inventory.Cloud
	}{
		{"aws", &inventory.Cloud{Provider: "aws"},
			&inventory.Cloud{Provider: "aws", Source: "metadata", InstanceID: "i-0abc", Region: "eu-west-1", Zone: "eu-west-1b"}},
		{"gcp", &inventory.Cloud{Provider: "gcp"},
			&inventory.Cloud{Provider: "gcp", Source: "metadata", InstanceID: "4520031799277581759", Region: "us-central1", Zone: "us-central1-a"}},
		{"azure", &inventory.Cloud{Provider: "azure"},
			&inventory.Cloud{Provider: "azure", Source: "metadata", InstanceID: "02aab8a4-74ef-476e-8182-f6d2ba4166a6", Region: "westeurope", Zone: "1"}},
		{"no_dmi_hint_tries_in_turn", nil,
			&inventory.Cloud{Provider: "aws", Source: "metadata", InstanceID: "i-0abc", Region: "eu-west-1", Zone: "eu-west-1b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Config{MetadataURL: srv.URL}).(*Collector)
			got, err := c.queryMetadata(context.Background(), tt.dmi)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("cloud (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMetadataFailureIsPartial(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c := New(Config{MetadataURL: srv.URL}).(*Collector)
	c.interfacesFn = func() ([]inventory.Interface, error) { return nil, nil }
	dir := testutil.TxtarToDir(t, "testdata/debian.txtar")
	inv, err := c.Collect(context.Background(), &collector.Input{Root: os.DirFS(dir), Live: true})
	st := plugin.StatusFromErr(err)
	if st.State != plugin.StatePartial || !strings.Contains(st.Error, "cloud metadata") {
		t.Errorf("status = %+v, want partial naming the metadata failure", st)
	}
	// DMI's answer is kept.
	if diff := cmp.Diff(&inventory.Cloud{Provider: "aws", Source: "dmi", InstanceID: "i-0a1b2c3d4e5f67890"}, inv.Host.Cloud); diff != "" {
		t.Errorf("cloud (-want +got):\n%s", diff)
	}
}

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"quoted_and_escaped", "NAME=\"A \\\"B\\\"\"\nID='x'\n# c\n\nVERSION_ID=1\n",
			map[string]string{"NAME": `A "B"`, "ID": "x", "VERSION_ID": "1"}, false},
		{"malformed_lines_skipped", "garbage\nID=debian\n=x\n", map[string]string{"ID": "debian"}, false},
		{"nothing_valid", "garbage\nmore garbage\n", nil, true},
		{"empty", "", map[string]string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseOSRelease(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseOSRelease(f *testing.F) {
	for _, s := range []string{
		"ID=debian\nVERSION_ID=\"12\"\n",
		"NAME='x'\n#c\nbad line\n",
		"A=\"\\\"\\\\\\$\"\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kv, err := ParseOSRelease(strings.NewReader(s))
		if err == nil && kv == nil {
			t.Fatal("nil map without error")
		}
		for k := range kv {
			if k == "" || strings.ContainsAny(k, "=\n") {
				t.Fatalf("bad key %q", k)
			}
		}
	})
}
