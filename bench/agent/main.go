// Command agent measures the runtime agent on this machine, all in one run:
//
//  1. a fork/exec storm (bench/execstorm) with the full agent running and
//     without it, alternating rounds: the storm's CPU-time ratio (median of
//     per-pair ratios), and the exec events the agent saw and lost during
//     each storm, from its metrics;
//  2. exec-to-alert latency p50/p99: a probe command is executed and the
//     time until its alert line appears in the alerts file is taken;
//  3. idle agent CPU and RSS over a period.
//
// The rule-engine replay figure comes from `go test -bench Replay
// ./internal/detect`.
//
//	make build && go build -o bin/execstorm ./bench/execstorm
//	sudo go run ./bench/agent -vigil bin/vigil -storm bin/execstorm
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/agent:", err)
		os.Exit(1)
	}
}

type options struct {
	vigil, storm string
	rounds, n    int
	idle         time.Duration
	probes       int
	only         string
}

func run() error {
	var o options
	flag.StringVar(&o.vigil, "vigil", "bin/vigil", "vigil binary")
	flag.StringVar(&o.storm, "storm", "bin/execstorm", "execstorm binary")
	flag.IntVar(&o.rounds, "rounds", 6, "storm rounds with and without the agent (each)")
	flag.IntVar(&o.n, "n", 20000, "execs per storm")
	flag.DurationVar(&o.idle, "idle", 5*time.Minute, "idle measurement period")
	flag.IntVar(&o.probes, "probes", 200, "latency probes")
	flag.StringVar(&o.only, "only", "storm,latency,idle", "which measurements")
	flag.Parse()
	if os.Geteuid() != 0 {
		return errors.New("needs root (the agent loads eBPF programs)")
	}
	for _, p := range []*string{&o.vigil, &o.storm} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	want := func(s string) bool { return slices.Contains(strings.Split(o.only, ","), s) }
	if want("storm") {
		if err := benchStorm(o); err != nil {
			return fmt.Errorf("storm: %w", err)
		}
	}
	if want("latency") {
		if err := benchLatency(o); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if want("idle") {
		if err := benchIdle(o); err != nil {
			return fmt.Errorf("idle: %w", err)
		}
	}
	return nil
}

// agentProc is a running `vigil agent --standalone`.
type agentProc struct {
	cmd     *exec.Cmd
	dir     string
	alerts  string
	metrics string
	log     *bytes.Buffer
	done    chan struct{} // closed when the agent has exited
}

const latencyRule = `rules:
  - id: BENCH-LATENCY-PROBE
    version: 1
    title: Latency probe
    description: Exec of the benchmark's probe command (keys on its unique argument).
    severity: info
    attack: {tactics: [TA0002], techniques: [T1059]}
    events: [exec]
    condition: proc.args.exists(a, a.startsWith('vigil-latency-probe-'))
    suppress: 1ns
    suppress_key: proc.cmdline
tests:
  - name: probe
    events:
      - kind: exec
        proc: {pid: 1, exe: /usr/bin/true, args: ["true", vigil-latency-probe-1], cmdline: true vigil-latency-probe-1}
    expect:
      - rule: BENCH-LATENCY-PROBE
`

func startAgent(o options) (*agentProc, error) {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return nil, err
	}
	rules := filepath.Join(dir, "bench.yaml")
	if err := os.WriteFile(rules, []byte(latencyRule), 0o600); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	a := &agentProc{dir: dir, alerts: filepath.Join(dir, "alerts.jsonl"), metrics: fmt.Sprintf("127.0.0.1:%d", port), log: &bytes.Buffer{}}
	a.cmd = exec.Command(o.vigil, "--data-dir", filepath.Join(dir, "data"), "agent", "--standalone",
		"--config", filepath.Join(dir, "none.yaml"), "--alerts-file", a.alerts, "--metrics-listen", a.metrics,
		"--rules", rules)
	os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("collectors: {interval: 0s}\n"), 0o600)
	a.cmd.Stderr = a.log
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	a.done = make(chan struct{})
	go func() { a.cmd.Wait(); close(a.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(a.log.String(), "msg=ready") {
			return a, nil
		}
		select {
		case <-a.done:
			return nil, fmt.Errorf("agent exited; log:\n%s", a.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	a.stop()
	return nil, fmt.Errorf("agent not ready in 30s; log:\n%s", a.log.String())
}

func (a *agentProc) stop() {
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(20 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
	os.RemoveAll(a.dir)
}

// metric sums the samples of a Prometheus metric whose label set contains
// all of labels.
func (a *agentProc) metric(name string, labels ...string) (float64, error) {
	resp, err := http.Get("http://" + a.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

type stormResult struct {
	CPU, Wall time.Duration
}

func runStorm(o options) (stormResult, error) {
	cmd := exec.Command(o.storm, "-n", strconv.Itoa(o.n))
	cmd.Stdout = io.Discard
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return stormResult{}, err
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return stormResult{CPU: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), Wall: time.Since(start)}, nil
}

func benchStorm(o options) error {
	var ratios, with, without []float64
	var seenTotal, lostTotal float64
	for r := 0; r < o.rounds; r++ {
		base, err := runStorm(o)
		if err != nil {
			return err
		}
		a, err := startAgent(o)
		if err != nil {
			return err
		}
		time.Sleep(time.Second)
		exec0, _ := a.metric("vigil_events_total", `kind="exec"`)
		lost0, _ := a.metric("vigil_events_dropped_total")
		res, err := runStorm(o)
		if err != nil {
			a.stop()
			return err
		}
		// Let the pipeline drain before reading the counters.
		time.Sleep(2 * time.Second)
		exec1, _ := a.metric("vigil_events_total", `kind="exec"`)
		lost1, _ := a.metric("vigil_events_dropped_total")
		a.stop()
		ratio := float64(res.CPU) / float64(base.CPU)
		ratios = append(ratios, ratio)
		with = append(with, res.CPU.Seconds())
		without = append(without, base.CPU.Seconds())
		seen, lost := exec1-exec0, lost1-lost0
		seenTotal += seen
		lostTotal += lost
		fmt.Printf("storm round %d: without %.3fs CPU (%.2fs wall), with agent %.3fs CPU (%.2fs wall), ratio %.3f; agent saw %.0f exec events (storm made %d), lost %.0f\n",
			r+1, base.CPU.Seconds(), base.Wall.Seconds(), res.CPU.Seconds(), res.Wall.Seconds(), ratio, seen, o.n, lost)
	}
	fmt.Printf("STORM %d execs x %d rounds: median CPU without %.3fs, with %.3fs; median ratio %.3f; exec events seen %.0f of %d, lost %.0f\n",
		o.n, o.rounds, median(without), median(with), median(ratios), seenTotal, o.n*o.rounds, lostTotal)
	return nil
}

func benchLatency(o options) error {
	a, err := startAgent(o)
	if err != nil {
		return err
	}
	defer a.stop()
	f, err := os.Open(a.alerts)
	if err != nil {
		return err
	}
	defer f.Close()
	rd := bufio.NewReader(f)
	var lat []float64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i := 0; i < o.probes; i++ {
		tag := fmt.Sprintf("vigil-latency-probe-%d", i)
		t0 := time.Now()
		if err := exec.CommandContext(ctx, "/bin/true", tag).Run(); err != nil {
			return err
		}
		found := false
		for !found {
			if time.Since(t0) > 10*time.Second {
				return fmt.Errorf("no alert for %s in 10s", tag)
			}
			line, err := rd.ReadString('\n')
			if err == io.EOF {
				time.Sleep(200 * time.Microsecond)
				if line != "" {
					// Partial line: put back by seeking.
					f.Seek(-int64(len(line)), io.SeekCurrent)
					rd.Reset(f)
				}
				continue
			}
			if err != nil {
				return err
			}
			var al struct {
				Process struct {
					Cmdline string `json:"cmdline"`
				} `json:"process"`
			}
			if json.Unmarshal([]byte(line), &al) == nil && strings.HasSuffix(al.Process.Cmdline, " "+tag) {
				found = true
			}
		}
		lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
		time.Sleep(10 * time.Millisecond)
	}
	slices.Sort(lat)
	fmt.Printf("LATENCY exec-to-alert over %d probes: p50 %.2f ms, p99 %.2f ms, max %.2f ms (includes fork+exec of the probe)\n",
		len(lat), pct(lat, 50), pct(lat, 99), lat[len(lat)-1])
	return nil
}

func benchIdle(o options) error {
	a, err := startAgent(o)
	if err != nil {
		return err
	}
	defer a.stop()
	time.Sleep(5 * time.Second) // start-up work is not idle
	pid := a.cmd.Process.Pid
	cpu0, _, err := procUsage(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	var maxRSS, lastRSS uint64
	for time.Since(t0) < o.idle {
		time.Sleep(5 * time.Second)
		_, rss, err := procUsage(pid)
		if err != nil {
			return err
		}
		maxRSS = max(maxRSS, rss)
		lastRSS = rss
	}
	cpu1, _, err := procUsage(pid)
	if err != nil {
		return err
	}
	el := time.Since(t0)
	fmt.Printf("IDLE over %s: agent CPU %.3fs = %.3f%% of one core; RSS max %.1f MiB, last %.1f MiB\n",
		el.Round(time.Second), cpu1-cpu0, 100*(cpu1-cpu0)/el.Seconds(), float64(maxRSS)/(1<<20), float64(lastRSS)/(1<<20))
	return nil
}

// procUsage reads a process's CPU seconds and RSS bytes from /proc.
func procUsage(pid int) (cpu float64, rss uint64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	pages, _ := strconv.ParseUint(f[21], 10, 64)
	return (ut + st) / 100, pages * uint64(os.Getpagesize()), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p / 100)
	return sorted[i]
}
