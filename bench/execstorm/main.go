// Command execstorm runs a fork/exec storm and prints its own CPU time
// (user+system, children included, from getrusage) and wall time as one
// JSON line. The agent's bench harness runs it with and without the agent
// to measure what the sensors cost a busy host.
//
//	execstorm -n 20000            # fork+exec /bin/true n times
//	execstorm -n 20000 -fork      # fork and exit without exec
//	execstorm -n 20000 -workers 2 # in parallel
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

type result struct {
	Mode    string  `json:"mode"`
	N       int     `json:"n"`
	Workers int     `json:"workers"`
	CPUSec  float64 `json:"cpu_s"`
	UserSec float64 `json:"user_s"`
	SysSec  float64 `json:"sys_s"`
	WallSec float64 `json:"wall_s"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "execstorm:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 20000, "number of processes")
	fork := flag.Bool("fork", false, "fork and exit without exec")
	workers := flag.Int("workers", 1, "parallel workers")
	bin := flag.String("exec", "/bin/true", "program to execute")
	flag.Parse()
	if *n < 1 || *workers < 1 {
		return errors.New("-n and -workers must be positive")
	}
	one := func() error { return exec.Command(*bin).Run() }
	mode := "exec"
	if *fork {
		one, mode = forkExit, "fork"
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *workers)
	for w := 0; w < *workers; w++ {
		count := *n / *workers
		if w < *n%*workers {
			count++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < count; i++ {
				if err := one(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	var self, kids syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids); err != nil {
		return fmt.Errorf("getrusage children: %w", err)
	}
	sec := func(t syscall.Timeval) float64 { return float64(t.Nano()) / 1e9 }
	user, sys := sec(self.Utime)+sec(kids.Utime), sec(self.Stime)+sec(kids.Stime)
	return json.NewEncoder(os.Stdout).Encode(result{Mode: mode, N: *n, Workers: *workers,
		CPUSec: user + sys, UserSec: user, SysSec: sys, WallSec: wall.Seconds()})
}

// forkExit forks a child that exits at once, and reaps it. The child runs
// no Go code: it calls exit_group straight after fork.
func forkExit() error {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_FORK, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("fork: %w", errno)
	}
	if pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(int(pid), &ws, 0, nil); err != nil {
		return fmt.Errorf("wait: %w", err)
	}
	return nil
}
