package geoip_test

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/geoip/geoiptest"
)

func TestLookup(t *testing.T) {
	city, asn := geoiptest.WriteFiles(t, t.TempDir(), geoiptest.Places)
	db, err := geoip.Open(city, asn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tc := range []struct {
		name string
		ip   string
		want geoip.Location
	}{
		{"berlin", "198.51.100.7", geoip.Location{Country: "DE", City: "Berlin", HasCoords: true, Lat: 52.52, Lon: 13.405, RadiusKM: 20, ASN: 64500, Org: "Example Telecom DE"}},
		{"ipv6_paris", "2001:db8::1", geoip.Location{Country: "FR", City: "Paris", HasCoords: true, Lat: 48.8566, Lon: 2.3522, RadiusKM: 100, ASN: 64503, Org: "Example IPv6 FR"}},
		{"mapped_v4", "::ffff:203.0.113.9", geoip.Location{Country: "AU", City: "Sydney", HasCoords: true, Lat: -33.8688, Lon: 151.2093, RadiusKM: 50, ASN: 64501, Org: "Example Net AU"}},
		{"not_in_db", "8.8.8.8", geoip.Location{}},
		{"private", "10.1.2.3", geoip.Location{Country: geoip.Internal}},
		{"loopback", "127.0.0.5", geoip.Location{Country: geoip.Internal}},
		{"ipv6_loopback", "::1", geoip.Location{Country: geoip.Internal}},
		{"cgnat", "100.64.1.1", geoip.Location{Country: geoip.Internal}},
		{"ula", "fd00::1", geoip.Location{Country: geoip.Internal}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ip := netip.MustParseAddr(tc.ip)
			got, err := db.Lookup(ip)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.IP = ip.Unmap()
			if d := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

func TestCityOnlyAndNil(t *testing.T) {
	db, err := geoip.OpenBytes(geoiptest.City(t, geoiptest.Places), nil)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := db.Lookup(netip.MustParseAddr("192.0.2.1"))
	if err != nil || loc.Country != "US" || loc.ASN != 0 {
		t.Errorf("city only: %+v, %v", loc, err)
	}
	var none *geoip.DB
	loc, err = none.Lookup(netip.MustParseAddr("192.168.1.1"))
	if err != nil || loc.Country != geoip.Internal {
		t.Errorf("nil DB, private address: %+v, %v", loc, err)
	}
	if _, err := none.Lookup(netip.Addr{}); err == nil {
		t.Error("invalid address: no error")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.mmdb")
	os.WriteFile(bad, []byte("<html>not a database</html>"), 0o644)
	for name, fn := range map[string]func() error{
		"none":        func() error { _, err := geoip.Open("", ""); return err },
		"missing":     func() error { _, err := geoip.Open(filepath.Join(dir, "nope.mmdb"), ""); return err },
		"garbage":     func() error { _, err := geoip.Open(bad, ""); return err },
		"garbage_asn": func() error { _, err := geoip.OpenBytes(nil, []byte("xx")); return err },
	} {
		if err := fn(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDistance(t *testing.T) {
	// Berlin – Sydney is about 16,090 km.
	d := geoip.DistanceKM(52.52, 13.405, -33.8688, 151.2093)
	if math.Abs(d-16090) > 50 {
		t.Errorf("Berlin–Sydney = %.0f km", d)
	}
	if d := geoip.DistanceKM(1, 2, 1, 2); d != 0 {
		t.Errorf("same point = %v", d)
	}
}

// FuzzOpenLookup opens arbitrary bytes as a database and looks addresses
// up in whatever opens: neither may panic.
func FuzzOpenLookup(f *testing.F) {
	f.Add(geoiptest.City(f, geoiptest.Places)[:], []byte{198, 51, 100, 7})
	f.Add(geoiptest.ASN(f, geoiptest.Places), []byte{32, 1, 13, 184, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte("\xab\xcd\xefMaxMind.com"), []byte{1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data, ipb []byte) {
		db, err := geoip.OpenBytes(data, nil)
		if err != nil {
			return
		}
		defer db.Close()
		ip, ok := netip.AddrFromSlice(ipb)
		if !ok {
			ip = netip.MustParseAddr("198.51.100.7")
		}
		db.Lookup(ip)
	})
}
