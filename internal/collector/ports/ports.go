// Package ports collects the listening TCP and bound UDP sockets of a host
// (what `ss -tlnu` shows), each with the processes that hold it.
//
// On the live host the sockets come from the kernel through sock_diag
// netlink; for another procfs (an offline snapshot given with --proc) they
// are read from <proc>/net/{tcp,tcp6,udp,udp6}. Owners are found by
// matching socket inodes against the <proc>/<pid>/fd symlinks.
package ports

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/netutil"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/procutil"
)

// Name is the collector's name.
const Name = inventory.CategoryPorts

type ports struct {
	// netlink reports whether sockets come from sock_diag for this input;
	// tests force the /proc/net reader.
	netlink func(in *collector.Input) bool
}

// New returns the ports collector.
func New() collector.Collector { return &ports{netlink: isLiveProc} }

func (*ports) Name() string { return Name }
func (*ports) Version() int { return 1 }
func (*ports) Requirements() *plugin.Capabilities {
	return &plugin.Capabilities{Root: true, RunningHost: true}
}

func isLiveProc(in *collector.Input) bool {
	return in.Live && filepath.Clean(in.ProcPath) == "/proc"
}

// Collect lists the sockets, then their owners.
func (p *ports) Collect(ctx context.Context, in *collector.Input) (*inventory.Inventory, error) {
	if in.ProcPath == "" {
		return nil, plugin.Skip("no procfs to read sockets from")
	}
	var problems plugin.Problems
	var socks []socket
	var err error
	if p.netlink(in) {
		socks, err = readDiag(ctx, in.ProcPath, &problems)
	} else {
		socks, err = readProcNet(ctx, in.ProcPath, diagQueries, &problems)
	}
	if err != nil {
		return nil, err
	}
	out, err := build(ctx, in.ProcPath, socks)
	if err != nil {
		return nil, err
	}
	return &inventory.Inventory{Ports: out}, problems.Err()
}

// readDiag asks sock_diag for each protocol and family, reading the
// /proc/net table instead for any query the kernel refuses (a kernel
// without udp_diag, for example), as ss does.
func readDiag(ctx context.Context, procPath string, problems *plugin.Problems) ([]socket, error) {
	d, err := dialDiag()
	if err != nil {
		return readProcNet(ctx, procPath, diagQueries, problems)
	}
	defer d.Close()
	var socks []socket
	for _, q := range diagQueries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := d.dump(q)
		if err != nil {
			s, err = readProcNet(ctx, procPath, []diagQuery{q}, problems)
			if err != nil {
				return nil, err
			}
		}
		socks = append(socks, s...)
	}
	return socks, nil
}

// readProcNet parses <procPath>/net/<file> for each query. A missing
// table (a kernel without IPv6) holds no sockets; any other read error
// fails the collector.
func readProcNet(ctx context.Context, procPath string, qs []diagQuery, problems *plugin.Problems) ([]socket, error) {
	var socks []socket
	read := 0
	var firstErr error
	for _, q := range qs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(procPath, "net", q.file)
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open socket table: %w", err)
		}
		_, err = parseProcNet(f, path, q.proto, q.file[len(q.file)-1] == '6', q.state, problems, func(s socket) {
			socks = append(socks, s)
		})
		f.Close()
		if err != nil {
			return nil, err
		}
		read++
	}
	if read == 0 && firstErr != nil {
		return nil, fmt.Errorf("no socket tables: %w", firstErr)
	}
	return socks, nil
}

type owner struct {
	comm, exe string
}

// build merges the sockets into one Port per (protocol, address, port),
// adds their owners and sorts them.
func build(ctx context.Context, procPath string, socks []socket) ([]inventory.Port, error) {
	// Lowest inode first, so a merged row keeps the oldest socket's uid
	// and inode whatever order the kernel listed them in.
	slices.SortFunc(socks, func(a, b socket) int {
		return cmp.Or(
			strings.Compare(a.proto, b.proto),
			cmp.Compare(a.family(), b.family()),
			a.addr.Compare(b.addr),
			cmp.Compare(a.port, b.port),
			cmp.Compare(a.inode, b.inode),
		)
	})
	want := make(map[uint64]struct{}, len(socks))
	for _, s := range socks {
		if s.inode != 0 {
			want[s.inode] = struct{}{}
		}
	}
	holders, err := procutil.SocketOwners(ctx, procPath, want)
	if err != nil {
		return nil, fmt.Errorf("find socket owners: %w", err)
	}
	owners := make(map[int]owner)
	ownerOf := func(pid int) owner {
		if o, ok := owners[pid]; ok {
			return o
		}
		dir := filepath.Join(procPath, strconv.Itoa(pid))
		var o owner
		if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
			o.comm = strings.TrimSuffix(string(b), "\n")
		}
		if l, err := os.Readlink(filepath.Join(dir, "exe")); err == nil {
			o.exe = strings.TrimSuffix(l, " (deleted)")
		}
		owners[pid] = o
		return o
	}

	out := make([]inventory.Port, 0, len(socks))
	for i := 0; i < len(socks); {
		s := socks[i]
		var pids []int
		j := i
		for ; j < len(socks) && sameEndpoint(s, socks[j]); j++ {
			pids = append(pids, holders[socks[j].inode]...)
		}
		i = j
		slices.Sort(pids)
		pids = slices.Compact(pids)
		p := inventory.Port{
			Protocol: s.proto,
			Family:   s.family(),
			Address:  s.addr.String(),
			Port:     s.port,
			UID:      s.uid,
			Inode:    s.inode,
			Exposed:  netutil.IsExposed(s.addr),
		}
		if len(pids) > 0 {
			o := ownerOf(pids[0])
			p.PID, p.PIDs, p.Process, p.Exe = pids[0], pids, o.comm, o.exe
		}
		out = append(out, p)
	}
	return out, nil
}

func sameEndpoint(a, b socket) bool {
	return a.proto == b.proto && a.addr == b.addr && a.port == b.port
}
