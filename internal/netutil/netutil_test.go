package netutil

import (
	"net/netip"
	"testing"
)

func TestIsPublicAndExposed(t *testing.T) {
	tests := []struct {
		addr            string
		public, exposed bool
	}{
		{"0.0.0.0", false, true},
		{"::", false, true},
		{"127.0.0.1", false, false},
		{"::1", false, false},
		{"10.1.2.3", false, false},        // not dialled
		{"172.20.0.1", false, false},      // not dialled
		{"192.168.1.10", false, false},    // not dialled
		{"100.64.0.1", false, false},      // RFC 6598
		{"169.254.169.254", false, false}, // link-local
		{"fe80::1", false, false},
		{"fd12:3456::1", false, false}, // ULA
		{"8.8.8.8", true, true},
		{"2606:4700::1111", true, true},
		{"::ffff:127.0.0.1", false, false}, // mapped loopback
		{"::ffff:1.1.1.1", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a := netip.MustParseAddr(tt.addr)
			if got := IsPublic(a); got != tt.public {
				t.Errorf("IsPublic(%s) = %v, want %v", tt.addr, got, tt.public)
			}
			if got := IsExposed(a); got != tt.exposed {
				t.Errorf("IsExposed(%s) = %v, want %v", tt.addr, got, tt.exposed)
			}
		})
	}
}
