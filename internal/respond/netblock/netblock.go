// Package netblock blocks traffic to (and, with nftables, from) listed IP
// addresses for a time.
//
// The primary mechanism is a set of BPF cgroup sock_addr programs
// (connect4/6, sendmsg4/6) attached to the cgroup v2 root: a connect(2) or
// sendmsg(2) to a blocked address fails with EPERM before any packet
// leaves, in every network namespace, for every process of the host.
// Entries carry an expiry in CLOCK_MONOTONIC nanoseconds, checked by the
// program; user space sweeps expired entries.
//
// The fallback, for hosts without cgroup v2 or BPF, is nftables (table inet
// vigil, sets blocked4/blocked6 with per-element timeouts, an output rule
// and an input rule that drop). A drop in the output hook makes the local
// sender's call fail with EPERM too.
package netblock

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Entry is one blocked address.
type Entry struct {
	IP netip.Addr `json:"ip"`
	// Expires is when the block ends; zero means never.
	Expires time.Time `json:"expires,omitzero"`
}

// Blocker blocks addresses. Implementations are safe for concurrent use.
type Blocker interface {
	// Block blocks ip for d; d <= 0 blocks until Unblock. Blocking an
	// address again replaces its expiry.
	Block(ip netip.Addr, d time.Duration) error
	// Unblock lifts a block; unblocking an address not blocked is not an
	// error.
	Unblock(ip netip.Addr) error
	// List returns the addresses blocked now (expired ones left out).
	List() ([]Entry, error)
	// Mode names the mechanism: "bpf" or "nftables".
	Mode() string
	// Close removes every block and releases the mechanism.
	Close() error
}

// Open returns the BPF blocker, or the nftables one when BPF cannot be
// attached; the reason for the fallback is logged.
func Open(logger *slog.Logger) (Blocker, error) {
	if logger == nil {
		logger = slog.Default()
	}
	b, err := OpenBPF("")
	if err == nil {
		return b, nil
	}
	logger.Warn("netblock: BPF cgroup programs unavailable; using nftables", "error", err)
	n, nerr := OpenNFT(-1)
	if nerr != nil {
		return nil, errors.Join(err, nerr)
	}
	return n, nil
}

// CgroupV2Root returns where the cgroup v2 hierarchy is mounted: usually
// /sys/fs/cgroup, /sys/fs/cgroup/unified on hybrid hosts.
func CgroupV2Root() (string, error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return "", fmt.Errorf("find cgroup2 mount: %w", err)
	}
	defer f.Close()
	return parseCgroup2Mount(f)
}

func parseCgroup2Mount(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && fields[2] == "cgroup2" {
			return unescapeMount(fields[1]), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read /proc/self/mounts: %w", err)
	}
	return "", errors.New("no cgroup2 filesystem is mounted")
}

// unescapeMount undoes the octal escapes (\040 for a space) of
// /proc/self/mounts.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1:i+4]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(s string) bool {
	return len(s) == 3 && s[0] >= '0' && s[0] <= '3' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7'
}
