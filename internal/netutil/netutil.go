// Package netutil classifies IP addresses the way a security team reads
// them: which are reachable from the internet and which bind every address.
package netutil

import "net/netip"

// nonPublic lists prefixes that are not reachable from the public
// internet: private (RFC 1918), shared CGNAT (RFC 6598), loopback,
// link-local, unique-local (RFC 4193), documentation, benchmarking,
// multicast and reserved ranges.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("224.0.0.0/3"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// IsPublic reports whether addr is a unicast address routable on the
// public internet. IPv4-mapped IPv6 addresses are judged as IPv4.
func IsPublic(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = addr.Unmap()
	for _, p := range nonPublic {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// IsExposed reports whether a socket bound to addr can be reached from
// outside the host: it is bound to a wildcard address (0.0.0.0, ::) or to
// a public address.
func IsExposed(addr netip.Addr) bool {
	addr = addr.Unmap()
	return addr.IsUnspecified() || IsPublic(addr)
}
