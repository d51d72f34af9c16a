package netblock

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The nftables objects.
const (
	NFTTable = "vigil"
	NFTSet4  = "blocked4"
	NFTSet6  = "blocked6"
)

// NFT blocks with an nftables table: inet vigil, sets blocked4/blocked6
// with timeouts, and output/input chains that drop traffic to and from
// their members.
type NFT struct {
	mu         sync.Mutex
	conn       *nftables.Conn
	table      *nftables.Table
	set4, set6 *nftables.Set
}

// OpenNFT creates the table in the network namespace netnsFD (-1: the
// caller's), replacing one left by an earlier run.
func OpenNFT(netnsFD int) (*NFT, error) { return OpenNFTTable(netnsFD, NFTTable) }

// OpenNFTTable is OpenNFT with another table name, so that tests can block
// in the host namespace beside a running agent's table.
func OpenNFTTable(netnsFD int, table string) (*NFT, error) {
	var opts []nftables.ConnOption
	if netnsFD >= 0 {
		opts = append(opts, nftables.WithNetNSFd(netnsFD))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("nftables: connect: %w", err)
	}
	n := &NFT{conn: c, table: &nftables.Table{Family: nftables.TableFamilyINet, Name: table}}
	// add + delete + add: a stale table from an earlier run is replaced
	// in the same transaction.
	c.AddTable(n.table)
	c.DelTable(n.table)
	c.AddTable(n.table)
	n.set4 = &nftables.Set{Table: n.table, Name: NFTSet4, KeyType: nftables.TypeIPAddr, HasTimeout: true}
	n.set6 = &nftables.Set{Table: n.table, Name: NFTSet6, KeyType: nftables.TypeIP6Addr, HasTimeout: true}
	for _, s := range []*nftables.Set{n.set4, n.set6} {
		if err := c.AddSet(s, nil); err != nil {
			return nil, fmt.Errorf("nftables: add set %s: %w", s.Name, err)
		}
	}
	accept := nftables.ChainPolicyAccept
	chain := func(name string, hook *nftables.ChainHook) *nftables.Chain {
		return c.AddChain(&nftables.Chain{
			Name: name, Table: n.table, Type: nftables.ChainTypeFilter,
			Hooknum: hook, Priority: nftables.ChainPriorityFilter, Policy: &accept,
		})
	}
	// Output: traffic to a blocked address is rejected with an ICMP
	// administratively-prohibited error, so the local caller fails at
	// once (EHOSTUNREACH) instead of timing out. ICMP itself is exempt:
	// with the blocked address local (tests), the error is addressed to it.
	reject := &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED}
	out := chain("output", nftables.ChainHookOutput)
	c.AddRule(&nftables.Rule{Table: n.table, Chain: out, Exprs: match(unix.NFPROTO_IPV4, 16, 4, n.set4, unix.IPPROTO_ICMP, reject)})
	c.AddRule(&nftables.Rule{Table: n.table, Chain: out, Exprs: match(unix.NFPROTO_IPV6, 24, 16, n.set6, unix.IPPROTO_ICMPV6, reject)})
	// Input: traffic from a blocked address is dropped, except ICMP — the
	// errors the output rule itself generates arrive "from" the blocked
	// address, and IPv6 neighbour discovery must keep working.
	drop := &expr.Verdict{Kind: expr.VerdictDrop}
	in := chain("input", nftables.ChainHookInput)
	c.AddRule(&nftables.Rule{Table: n.table, Chain: in, Exprs: match(unix.NFPROTO_IPV4, 12, 4, n.set4, unix.IPPROTO_ICMP, drop)})
	c.AddRule(&nftables.Rule{Table: n.table, Chain: in, Exprs: match(unix.NFPROTO_IPV6, 8, 16, n.set6, unix.IPPROTO_ICMPV6, drop)})
	if err := c.Flush(); err != nil {
		return nil, fmt.Errorf("nftables: create table inet %s: %w", table, err)
	}
	return n, nil
}

// match is "meta nfproto <proto> [meta l4proto != <except>] <address at
// off> @set counter <verdict>".
func match(proto byte, off, size uint32, set *nftables.Set, except byte, verdict expr.Any) []expr.Any {
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
	}
	if except != 0 {
		e = append(e,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{except}})
	}
	return append(e,
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: size},
		&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID},
		&expr.Counter{},
		verdict)
}

// Mode returns "nftables".
func (n *NFT) Mode() string { return "nftables" }

func (n *NFT) setOf(ip netip.Addr) (*nftables.Set, []byte) {
	if ip.Is4() {
		return n.set4, ip.AsSlice()
	}
	return n.set6, ip.AsSlice()
}

// Block adds ip to its set with timeout d (d <= 0: no timeout).
func (n *NFT) Block(ip netip.Addr, d time.Duration) error {
	if !ip.IsValid() {
		return errors.New("netblock: invalid address")
	}
	ip = ip.Unmap()
	set, key := n.setOf(ip)
	el := nftables.SetElement{Key: key}
	if d > 0 {
		el.Timeout = max(d, time.Millisecond)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Re-blocking replaces the timeout: delete first, ignoring absence.
	if err := n.conn.SetDeleteElements(set, []nftables.SetElement{{Key: key}}); err == nil {
		n.conn.Flush()
	}
	if err := n.conn.SetAddElements(set, []nftables.SetElement{el}); err != nil {
		return fmt.Errorf("nftables: block %s: %w", ip, err)
	}
	if err := n.conn.Flush(); err != nil {
		return fmt.Errorf("nftables: block %s: %w", ip, err)
	}
	return nil
}

// Unblock removes ip from its set.
func (n *NFT) Unblock(ip netip.Addr) error {
	ip = ip.Unmap()
	set, key := n.setOf(ip)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.conn.SetDeleteElements(set, []nftables.SetElement{{Key: key}}); err != nil {
		return fmt.Errorf("nftables: unblock %s: %w", ip, err)
	}
	if err := n.conn.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("nftables: unblock %s: %w", ip, err)
	}
	return nil
}

// List returns the set members.
func (n *NFT) List() ([]Entry, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	var out []Entry
	for _, s := range []*nftables.Set{n.set4, n.set6} {
		els, err := n.conn.GetSetElements(s)
		if err != nil {
			return nil, fmt.Errorf("nftables: list %s: %w", s.Name, err)
		}
		for _, e := range els {
			ip, ok := netip.AddrFromSlice(e.Key)
			if !ok {
				continue
			}
			var exp time.Time
			if e.Timeout > 0 {
				exp = now.Add(e.Expires)
			}
			out = append(out, Entry{IP: ip, Expires: exp})
		}
	}
	return out, nil
}

// Close deletes the table; every block ends.
func (n *NFT) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	n.conn.DelTable(n.table)
	err := n.conn.Flush()
	n.conn.CloseLasting()
	n.conn = nil
	if err != nil {
		return fmt.Errorf("nftables: delete table inet %s: %w", NFTTable, err)
	}
	return nil
}
