package e2e

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// metric sums the samples of a Prometheus metric whose labels contain all
// of labels.
func (a *agentRun) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + a.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if f := strings.Fields(line); ok && len(f) > 0 {
			v, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum
}

// A storm faster than the agent can take, through one-page ring buffers:
// events are lost, and every lost one is counted.
func TestFloodDropsAreCounted(t *testing.T) {
	agent(t) // the binaries and the root/BPF checks
	dir, err := os.MkdirTemp("", "vigil-flood-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "flood.yaml")
	os.WriteFile(cfg, []byte("collectors: {interval: 0s}\nsensors: {ring_buffer: 4096}\nlimits: {queue: 64, memory: 104857600}\n"), 0o600)
	fl, err := startAgent("--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.stop()

	// Each iteration makes at least a fork, an exec and an exit: 3n
	// process events, each either delivered or counted as dropped.
	const n = 3000
	proc := `sensor="process"`
	count := func() (delivered, dropped float64) {
		return fl.metric(t, "vigil_sensor_events_total", proc), fl.metric(t, "vigil_events_dropped_total", proc)
	}
	d0, x0 := count()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := 0; i < n/4; i++ {
				exec.Command("/bin/true").Run()
			}
		})
	}
	wg.Wait()
	// Let the pipeline drain.
	var delivered, dropped float64
	for i := 0; i < 50; i++ {
		time.Sleep(200 * time.Millisecond)
		d1, x1 := count()
		delivered, dropped = d1-d0, x1-x0
		if delivered+dropped >= 3*n {
			break
		}
	}
	t.Logf("%d fork+exec+exit: %.0f process events delivered, %.0f dropped (kernel %.0f, queue %.0f)", n, delivered, dropped,
		fl.metric(t, "vigil_events_dropped_total", proc, `stage="kernel"`), fl.metric(t, "vigil_events_dropped_total", proc, `stage="queue"`))
	if delivered+dropped < 3*n {
		t.Errorf("%d fork/exec/exit but only %.0f delivered + %.0f dropped: events lost without a count", n, delivered, dropped)
	}
	if dropped == 0 {
		t.Errorf("a storm through one-page ring buffers dropped nothing: the flood did not flood")
	}
	if rss := fl.metric(t, "vigil_agent_rss_bytes"); rss > 150<<20 {
		t.Errorf("agent RSS %.0f MiB during the flood, configured soft limit 100 MiB", rss/(1<<20))
	}
}
