// Package geoiptest writes tiny MaxMind-format databases for tests, with
// mmdbwriter, so no test downloads one.
package geoiptest

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Place is one network of a test City (and ASN) database.
type Place struct {
	CIDR     string
	Country  string // ISO code
	City     string
	Lat, Lon float64
	RadiusKM int // 0: no accuracy_radius (like DB-IP lite)
	ASN      uint32
	Org      string
}

// Places are documentation networks spread over the world.
var Places = []Place{
	{CIDR: "198.51.100.0/24", Country: "DE", City: "Berlin", Lat: 52.52, Lon: 13.405, RadiusKM: 20, ASN: 64500, Org: "Example Telecom DE"},
	{CIDR: "203.0.113.0/24", Country: "AU", City: "Sydney", Lat: -33.8688, Lon: 151.2093, RadiusKM: 50, ASN: 64501, Org: "Example Net AU"},
	{CIDR: "192.0.2.0/24", Country: "US", City: "New York", Lat: 40.7128, Lon: -74.006, RadiusKM: 10, ASN: 64502, Org: "Example Cloud US"},
	{CIDR: "2001:db8::/32", Country: "FR", City: "Paris", Lat: 48.8566, Lon: 2.3522, RadiusKM: 100, ASN: 64503, Org: "Example IPv6 FR"},
	{CIDR: "198.18.0.0/24", Country: "DE", City: "Potsdam", Lat: 52.39, Lon: 13.06, RadiusKM: 20, ASN: 64504, Org: "Other Provider DE"},
}

// City returns a City database (GeoLite2-City layout) of places.
func City(t testing.TB, places []Place) []byte {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 24, IPVersion: 6,
		IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range places {
		_, n, err := net.ParseCIDR(p.CIDR)
		if err != nil {
			t.Fatal(err)
		}
		loc := mmdbtype.Map{"latitude": mmdbtype.Float64(p.Lat), "longitude": mmdbtype.Float64(p.Lon)}
		if p.RadiusKM > 0 {
			loc["accuracy_radius"] = mmdbtype.Uint16(p.RadiusKM)
		}
		rec := mmdbtype.Map{
			"country":  mmdbtype.Map{"iso_code": mmdbtype.String(p.Country)},
			"city":     mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(p.City)}},
			"location": loc,
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	return write(t, w)
}

// ASN returns an ASN database (GeoLite2-ASN layout) of places.
func ASN(t testing.TB, places []Place) []byte {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-ASN", RecordSize: 24, IPVersion: 6,
		IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range places {
		_, n, err := net.ParseCIDR(p.CIDR)
		if err != nil {
			t.Fatal(err)
		}
		rec := mmdbtype.Map{"autonomous_system_number": mmdbtype.Uint32(p.ASN),
			"autonomous_system_organization": mmdbtype.String(p.Org)}
		if err := w.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	return write(t, w)
}

func write(t testing.TB, w *mmdbwriter.Tree) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// WriteFiles writes City and ASN databases of places into dir and returns
// their paths.
func WriteFiles(t testing.TB, dir string, places []Place) (city, asn string) {
	t.Helper()
	city, asn = filepath.Join(dir, "city.mmdb"), filepath.Join(dir, "asn.mmdb")
	if err := os.WriteFile(city, City(t, places), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(asn, ASN(t, places), 0o644); err != nil {
		t.Fatal(err)
	}
	return city, asn
}
