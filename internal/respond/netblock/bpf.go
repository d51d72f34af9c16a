package netblock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// SweepInterval is how often the BPF blocker deletes expired entries.
const SweepInterval = 30 * time.Second

// BPF blocks with cgroup sock_addr programs.
type BPF struct {
	objs  netblockObjects
	links []link.Link
	mu    sync.Mutex // serialises Block/Unblock/sweep against Close
	done  chan struct{}
	wg    sync.WaitGroup
}

// OpenBPF loads the programs and attaches them to the cgroup v2 hierarchy
// at cgroupPath ("" finds the root with CgroupV2Root).
func OpenBPF(cgroupPath string) (*BPF, error) {
	if cgroupPath == "" {
		p, err := CgroupV2Root()
		if err != nil {
			return nil, err
		}
		cgroupPath = p
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("netblock: remove memlock limit: %w", err)
	}
	b := &BPF{done: make(chan struct{})}
	if err := loadNetblockObjects(&b.objs, nil); err != nil {
		return nil, fmt.Errorf("netblock: load BPF programs: %w", err)
	}
	for _, a := range []struct {
		prog *ebpf.Program
		typ  ebpf.AttachType
		name string
	}{
		{b.objs.Connect4, ebpf.AttachCGroupInet4Connect, "connect4"},
		{b.objs.Connect6, ebpf.AttachCGroupInet6Connect, "connect6"},
		{b.objs.Sendmsg4, ebpf.AttachCGroupUDP4Sendmsg, "sendmsg4"},
		{b.objs.Sendmsg6, ebpf.AttachCGroupUDP6Sendmsg, "sendmsg6"},
	} {
		l, err := link.AttachCgroup(link.CgroupOptions{Path: cgroupPath, Attach: a.typ, Program: a.prog})
		if err != nil {
			b.release()
			return nil, fmt.Errorf("netblock: attach cgroup/%s to %s: %w", a.name, cgroupPath, err)
		}
		b.links = append(b.links, l)
	}
	b.wg.Go(b.sweepLoop)
	return b, nil
}

// Mode returns "bpf".
func (b *BPF) Mode() string { return "bpf" }

func monotonic() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // CLOCK_MONOTONIC always exists on Linux
	}
	return uint64(ts.Nano())
}

func key4(ip netip.Addr) uint32 {
	a := ip.As4()
	return binary.NativeEndian.Uint32(a[:])
}

func key6(ip netip.Addr) netblockKey6 {
	a := ip.As16()
	var k netblockKey6
	for i := range k.Addr {
		k.Addr[i] = binary.NativeEndian.Uint32(a[4*i:])
	}
	return k
}

func addrOf6(k netblockKey6) netip.Addr {
	var a [16]byte
	for i, w := range k.Addr {
		binary.NativeEndian.PutUint32(a[4*i:], w)
	}
	return netip.AddrFrom16(a)
}

func addrOf4(k uint32) netip.Addr {
	var a [4]byte
	binary.NativeEndian.PutUint32(a[:], k)
	return netip.AddrFrom4(a)
}

// Block blocks connect/sendmsg to ip for d (d <= 0: until Unblock).
func (b *BPF) Block(ip netip.Addr, d time.Duration) error {
	if !ip.IsValid() {
		return errors.New("netblock: invalid address")
	}
	ip = ip.Unmap()
	var exp uint64
	if d > 0 {
		exp = monotonic() + uint64(d)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if ip.Is4() {
		err = b.objs.Blocked4.Put(key4(ip), exp)
	} else {
		err = b.objs.Blocked6.Put(key6(ip), exp)
	}
	if err != nil {
		return fmt.Errorf("netblock: block %s: %w", ip, err)
	}
	return nil
}

// Unblock lifts the block of ip.
func (b *BPF) Unblock(ip netip.Addr) error {
	ip = ip.Unmap()
	b.mu.Lock()
	defer b.mu.Unlock()
	var err error
	if ip.Is4() {
		err = b.objs.Blocked4.Delete(key4(ip))
	} else {
		err = b.objs.Blocked6.Delete(key6(ip))
	}
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("netblock: unblock %s: %w", ip, err)
	}
	return nil
}

// List returns the live blocks.
func (b *BPF) List() ([]Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	mono, wall := monotonic(), time.Now()
	expires := func(exp uint64) (time.Time, bool) {
		switch {
		case exp == 0:
			return time.Time{}, true
		case exp <= mono:
			return time.Time{}, false
		}
		return wall.Add(time.Duration(exp - mono)), true
	}
	var out []Entry
	var k4 uint32
	var k6 netblockKey6
	var v uint64
	it := b.objs.Blocked4.Iterate()
	for it.Next(&k4, &v) {
		if t, ok := expires(v); ok {
			out = append(out, Entry{IP: addrOf4(k4), Expires: t})
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("netblock: list blocked4: %w", err)
	}
	it = b.objs.Blocked6.Iterate()
	for it.Next(&k6, &v) {
		if t, ok := expires(v); ok {
			out = append(out, Entry{IP: addrOf6(k6), Expires: t})
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("netblock: list blocked6: %w", err)
	}
	return out, nil
}

// Denied returns how many connect/sendmsg calls were refused.
func (b *BPF) Denied() (uint64, error) {
	var per []uint64
	if err := b.objs.Denied.Lookup(uint32(0), &per); err != nil {
		return 0, fmt.Errorf("netblock: read counter: %w", err)
	}
	var n uint64
	for _, v := range per {
		n += v
	}
	return n, nil
}

// Sweep deletes expired entries and returns how many.
func (b *BPF) Sweep() (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	mono := monotonic()
	var n int
	var errs []error
	var k4 uint32
	var k6 netblockKey6
	var v uint64
	var dead4 []uint32
	var dead6 []netblockKey6
	it := b.objs.Blocked4.Iterate()
	for it.Next(&k4, &v) {
		if v != 0 && v <= mono {
			dead4 = append(dead4, k4)
		}
	}
	errs = append(errs, it.Err())
	it = b.objs.Blocked6.Iterate()
	for it.Next(&k6, &v) {
		if v != 0 && v <= mono {
			dead6 = append(dead6, k6)
		}
	}
	errs = append(errs, it.Err())
	for _, k := range dead4 {
		if err := b.objs.Blocked4.Delete(k); err == nil {
			n++
		}
	}
	for _, k := range dead6 {
		if err := b.objs.Blocked6.Delete(k); err == nil {
			n++
		}
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("netblock: sweep: %w", err)
	}
	return n, nil
}

func (b *BPF) sweepLoop() {
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
			b.Sweep()
		}
	}
}

// Close detaches the programs; every block ends.
func (b *BPF) Close() error {
	select {
	case <-b.done:
		return nil
	default:
	}
	close(b.done)
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.release()
}

func (b *BPF) release() error {
	var errs []error
	for _, l := range b.links {
		errs = append(errs, l.Close())
	}
	b.links = nil
	errs = append(errs, b.objs.Close())
	return errors.Join(errs...)
}
