package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "serve" {
		// The server child: this test binary re-executed by startServer.
		if err := serveMain(os.Args[1:]); err != nil {
			os.Stderr.WriteString("fleet serve: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func smallConfig(t *testing.T, args ...string) config {
	t.Helper()
	c, err := parseFlags(append([]string{"-n", "12", "-heartbeat", "400ms", "-duration", "2s", "-flush", "250ms",
		"-events", "8", "-alerts", "1", "-inventory", "testdata/inventory.json"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	if err := raiseNoFile(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSmallFleet runs a real server child and 12 agents over loopback and
// checks that every heartbeat was acknowledged and every record stored.
func TestSmallFleet(t *testing.T) {
	c := smallConfig(t)
	inv, err := loadInventory(context.Background(), c.inventory)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(inv), hostnamePlaceholder) {
		t.Fatal("marshalled snapshot has no hostname placeholder")
	}
	pg := &pgSource{}
	defer pg.stop()
	r, err := runStep(context.Background(), c, "sqlite", pg, 12, inv)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", r)
	if !r.Pass || r.Error != "" {
		t.Fatalf("step failed: %s", r.Error)
	}
	// 12 agents, one beat every 400 ms for 2 s: 5 each.
	if r.Beats != 12*5 {
		t.Errorf("%d heartbeats measured, want 60", r.Beats)
	}
	if r.Inventories != 12 {
		t.Errorf("%d inventories stored, want 12", r.Inventories)
	}
	// 8 events/s per agent in 250 ms flushes: 2 per flush, 8 flushes.
	if r.StoredEvents != 12*8*2 {
		t.Errorf("%d events stored, want %d", r.StoredEvents, 12*8*2)
	}
	if r.StoredAlerts == 0 || r.Max < r.P99 || r.P99 < r.P50 || r.P50 <= 0 {
		t.Errorf("implausible figures: %+v", r)
	}
	if r.ServerRSS == 0 || r.ServerCPU <= 0 {
		t.Errorf("server resource use not measured: rss %d cpu %f", r.ServerRSS, r.ServerCPU)
	}
}

// TestStepFailsOverLimit: a p99 limit no round trip can meet fails the
// step.
func TestStepFailsOverLimit(t *testing.T) {
	c := smallConfig(t, "-p99", "1ns", "-duration", "1s", "-no-inventory")
	pg := &pgSource{}
	defer pg.stop()
	r, err := runStep(context.Background(), c, "sqlite", pg, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pass {
		t.Fatalf("step passed with a 1 ns limit: %+v", r)
	}
	if r.Late != r.Beats || r.Beats == 0 {
		t.Errorf("%d of %d beats late, want all", r.Late, r.Beats)
	}
}

func TestIngest(t *testing.T) {
	c := smallConfig(t, "-duration", "1s", "-writers", "2", "-batch", "200")
	pg := &pgSource{}
	defer pg.stop()
	r, err := runIngest(context.Background(), c, "sqlite", pg)
	if err != nil {
		t.Fatal(err)
	}
	if r.Events == 0 || r.Events%200 != 0 || r.EventsPerSec <= 0 {
		t.Fatalf("implausible ingest: %+v", r)
	}
}

func TestPercentileAndBeats(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	if p := pct(s, 0.5); p != 50 {
		t.Errorf("p50 = %d, want 50", p)
	}
	if p := pct(s, 0.99); p != 99 {
		t.Errorf("p99 = %d, want 99", p)
	}
	if p := pct(s[:1], 0.99); p != 1 {
		t.Errorf("p99 of one = %d", p)
	}
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		first, end time.Duration
		want       int
	}{{0, 30 * time.Second, 1}, {0, 30*time.Second + 1, 2}, {10 * time.Second, 90 * time.Second, 3}, {time.Minute, time.Minute, 0}} {
		if got := beatsIn(t0.Add(tc.first), t0.Add(tc.end), 30*time.Second); got != tc.want {
			t.Errorf("beatsIn(%v, %v) = %d, want %d", tc.first, tc.end, got, tc.want)
		}
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"-n", "0"}, {"-n", "x"}, {"-store", "mysql"}, {"-heartbeat", "0s"}, {"-events", "-1"}, {"extra"}} {
		if _, err := parseFlags(args); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

func TestSampleProc(t *testing.T) {
	s, err := sampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS == 0 || s.PeakRSS < s.RSS {
		t.Errorf("rss %d peak %d", s.RSS, s.PeakRSS)
	}
}

func TestParseProc(t *testing.T) {
	stat := []byte("4242 (vigil (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0\n")
	if d, err := parseStatCPU(stat); err != nil || d != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", d, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 a b c"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
	rss, peak := parseStatusRSS([]byte("Name:\tvigil\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\nThreads: 9\n"))
	if rss != 1024<<10 || peak != 2048<<10 {
		t.Errorf("rss %d peak %d", rss, peak)
	}
}

func FuzzParseProc(f *testing.F) {
	f.Add([]byte("4242 (vigil) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0\n"))
	f.Add([]byte("VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n"))
	f.Add([]byte("1 ()) S 1 2 3 4 5 6 7 8 9 10 18446744073709551615 18446744073709551615"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseStatCPU(b); err == nil && d < 0 {
			t.Fatalf("negative CPU time %v", d)
		}
		rss, peak := parseStatusRSS(b)
		if rss%1024 != 0 || peak%1024 != 0 {
			t.Fatalf("rss %d peak %d not whole KiB", rss, peak)
		}
	})
}
