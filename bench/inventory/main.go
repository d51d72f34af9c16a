// Command inventory measures `vigil inventory` on this machine against the
// shell commands an administrator would run for a subset of the same
// facts:
//
//	ss -tulpn; ps -eo pid,ppid,user,lstart,args; dpkg-query -W; getent passwd
//
// It prints the cold run (empty data dir: every exe hashed), then the
// median of N warm runs of each, their ratio, Vigil's peak RSS, and how
// many facts each side reported. Run it as root, as the agent runs:
//
//	go build -o bin/vigil ./cmd/vigil && go run ./bench/inventory -vigil bin/vigil
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"
)

const baselineScript = "ss -tulpn; ps -eo pid,ppid,user,lstart,args; dpkg-query -W; getent passwd"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type sample struct {
	wall   time.Duration
	maxRSS int64 // KiB
	out    []byte
}

func measure(name string, args ...string) (sample, error) {
	cmd := exec.Command(name, args...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	s := sample{wall: wall, out: out.Bytes()}
	if ru != nil {
		s.maxRSS = ru.Maxrss
	}
	return s, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func run() error {
	vigil := flag.String("vigil", "bin/vigil", "vigil binary to measure")
	n := flag.Int("n", 10, "warm runs of each")
	flag.Parse()
	if os.Geteuid() != 0 {
		return errors.New("run as root: the agent runs as root and reads every process")
	}
	dataDir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	vargs := []string{"inventory", "--format", "json", "--data-dir", dataDir}

	cold, err := measure(*vigil, vargs...)
	if err != nil {
		return err
	}
	var vigilWall, baseWall []time.Duration
	var peak int64
	var last sample
	// Interleave the two so that machine noise hits both alike.
	for range *n {
		s, err := measure(*vigil, vargs...)
		if err != nil {
			return err
		}
		vigilWall = append(vigilWall, s.wall)
		peak = max(peak, s.maxRSS)
		last = s
		b, err := measure("sh", "-c", baselineScript)
		if err != nil {
			return err
		}
		baseWall = append(baseWall, b.wall)
	}
	base, _ := measure("sh", "-c", baselineScript)

	vf, err := countFacts(last.out)
	if err != nil {
		return err
	}
	bf := bytes.Count(base.out, []byte("\n"))
	vm, bm := median(vigilWall), median(baseWall)
	fmt.Printf("machine: %d warm runs each, interleaved\n", *n)
	fmt.Printf("vigil inventory cold (empty data dir): %v, peak RSS %.1f MiB\n", cold.wall.Round(time.Millisecond), float64(cold.maxRSS)/1024)
	fmt.Printf("vigil inventory warm median:           %v, peak RSS %.1f MiB\n", vm.Round(time.Millisecond), float64(peak)/1024)
	fmt.Printf("baseline (%s) median: %v\n", baselineScript, bm.Round(time.Millisecond))
	fmt.Printf("ratio warm/baseline: %.2fx (budget 2x); cold/baseline: %.2fx\n", float64(vm)/float64(bm), float64(cold.wall)/float64(bm))
	fmt.Printf("facts: vigil %d records (%s) vs baseline %d output lines\n", vf.total, vf.detail, bf)
	return nil
}

type facts struct {
	total  int
	detail string
}

// countFacts counts the records of a JSON snapshot: one per user, group,
// port, process, middleware, task, startup item, package and container,
// plus the host.
func countFacts(b []byte) (facts, error) {
	var snap map[string]json.RawMessage
	if err := json.Unmarshal(b, &snap); err != nil {
		return facts{}, fmt.Errorf("decode vigil output: %w", err)
	}
	var parts []string
	total := 0
	count := func(name string, raw json.RawMessage) {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			total += len(list)
			parts = append(parts, fmt.Sprintf("%s %d", name, len(list)))
		}
	}
	if len(snap["host"]) > 0 && string(snap["host"]) != "null" {
		total++
	}
	var acc map[string]json.RawMessage
	if json.Unmarshal(snap["accounts"], &acc) == nil {
		count("users", acc["users"])
		count("groups", acc["groups"])
	}
	for _, c := range []string{"ports", "processes", "middleware", "scheduled_tasks", "startup_items", "packages", "containers"} {
		count(c, snap[c])
	}
	return facts{total: total, detail: strings.Join(parts, ", ")}, nil
}
