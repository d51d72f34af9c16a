package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// raiseNoFile lifts RLIMIT_NOFILE as far as allowed: every simulated agent
// holds a socket in this process and one in the server.
func raiseNoFile() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	want := uint64(1 << 20)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			want = v
		}
	}
	if lim.Max < want {
		// Needs CAP_SYS_RESOURCE; without it the hard limit stays.
		up := syscall.Rlimit{Cur: want, Max: want}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) == nil {
			return nil
		}
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open-file limit to %d: %w", lim.Max, err)
	}
	return nil
}

// noFileLimit is the current RLIMIT_NOFILE.
func noFileLimit() uint64 {
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	return lim.Cur
}

// child is a running server child.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner
	Addr   string
	Tokens []string
	exited chan error
}

// startServer re-executes this binary as the server child with a fresh
// data directory in dir, minting n tokens.
func startServer(dir, store string, n int) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	tokFile := filepath.Join(dir, "tokens.txt")
	cmd := exec.Command(exe, "-dir", filepath.Join(dir, "data"), "-store", store, "-tokens", strconv.Itoa(n), "-tokens-file", tokFile)
	cmd.Env = append(os.Environ(), roleEnv+"=serve")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout), exited: make(chan error, 1)}
	if !c.out.Scan() {
		stdin.Close()
		err := cmd.Wait()
		return nil, fmt.Errorf("server child ended before it was ready: %v %v", err, c.out.Err())
	}
	line := c.out.Text()
	addr, ok := strings.CutPrefix(line, "READY ")
	if !ok {
		c.Stop()
		return nil, fmt.Errorf("server child said %q, want READY <addr>", line)
	}
	c.Addr = addr
	b, err := os.ReadFile(tokFile)
	if err != nil {
		c.Stop()
		return nil, err
	}
	c.Tokens = strings.Fields(string(b))
	if len(c.Tokens) != n {
		c.Stop()
		return nil, fmt.Errorf("server child minted %d tokens, want %d", len(c.Tokens), n)
	}
	return c, nil
}

// Stats asks the child for the link's counters.
func (c *child) Stats() (serverStats, error) {
	var s serverStats
	if _, err := io.WriteString(c.stdin, "stats\n"); err != nil {
		return s, err
	}
	if !c.out.Scan() {
		return s, fmt.Errorf("server child: no stats: %v", c.out.Err())
	}
	err := json.Unmarshal(c.out.Bytes(), &s)
	return s, err
}

// Stop closes the child's stdin (it stops gracefully) and waits, killing
// it after a minute.
func (c *child) Stop() error {
	c.stdin.Close()
	go func() { c.exited <- c.cmd.Wait() }()
	select {
	case err := <-c.exited:
		return err
	case <-time.After(time.Minute):
		c.cmd.Process.Kill()
		<-c.exited
		return errors.New("server child did not stop within a minute; killed")
	}
}

// procSample is a process's resource use at one moment.
type procSample struct {
	At      time.Time
	CPU     time.Duration // user + system
	RSS     uint64        // bytes
	PeakRSS uint64        // VmHWM, bytes
}

// sampleProc reads /proc/<pid>/stat and status.
func sampleProc(pid int) (procSample, error) {
	s := procSample{At: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	if s.CPU, err = parseStatCPU(stat); err != nil {
		return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	s.RSS, s.PeakRSS = parseStatusRSS(status)
	return s, nil
}

// parseStatCPU returns utime + stime from a /proc/<pid>/stat line.
func parseStatCPU(b []byte) (time.Duration, error) {
	// Fields after the command, which is in parentheses and may hold
	// spaces and parentheses itself.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("no command field")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command, want at least 13", len(f))
	}
	// utime and stime are fields 14 and 15 (1-based), 11 and 12 here.
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	const clkTck = 100 // USER_HZ on Linux
	const maxTicks = uint64(math.MaxInt64 / int64(time.Second/clkTck))
	if ut > maxTicks || st > maxTicks-ut {
		return 0, fmt.Errorf("CPU ticks %d+%d out of range", ut, st)
	}
	return time.Duration(ut+st) * (time.Second / clkTck), nil
}

// parseStatusRSS returns VmRSS and VmHWM in bytes from /proc/<pid>/status
// (zero when absent).
func parseStatusRSS(b []byte) (rss, peak uint64) {
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil || kb > math.MaxUint64>>10 {
			continue
		}
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}
