// Package geoip locates IP addresses with MaxMind-format databases (the
// .mmdb files of MaxMind GeoLite2/GeoIP2 and DB-IP): a City database for
// country, city, coordinates and accuracy, and an optional ASN database
// for the network's autonomous system. Private, loopback and link-local
// addresses are "internal" and need no database.
package geoip

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Internal is the Country of private, loopback, link-local, CGNAT and
// unique-local addresses.
const Internal = "internal"

// Location is what the databases say about one address.
type Location struct {
	IP netip.Addr `json:"ip"`
	// Country is the ISO 3166-1 alpha-2 code ("DE"), Internal, or "" when
	// unknown.
	Country string `json:"country,omitempty"`
	City    string `json:"city,omitempty"`
	// HasCoords is set when Lat/Lon come from the database.
	HasCoords bool    `json:"has_coords,omitempty"`
	Lat       float64 `json:"lat,omitempty"`
	Lon       float64 `json:"lon,omitempty"`
	// RadiusKM is the database's accuracy radius; 0 when it gives none.
	RadiusKM int `json:"radius_km,omitempty"`
	// ASN and Org are the autonomous system, from the ASN database (or a
	// City database that carries them).
	ASN uint   `json:"asn,omitempty"`
	Org string `json:"org,omitempty"`
}

// IsInternal reports whether the address is not routed on the Internet:
// loopback, RFC 1918, link-local, CGNAT (100.64/10), unique-local
// (fc00::/7) or unspecified.
func IsInternal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || cgnat.Contains(ip)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// DB holds the opened databases. Lookup is safe for concurrent use.
type DB struct {
	city, asn *maxminddb.Reader
}

// Open opens a City database and, when asnPath is not empty, an ASN
// database. Either path may be empty, not both.
func Open(cityPath, asnPath string) (*DB, error) {
	if cityPath == "" && asnPath == "" {
		return nil, errors.New("geoip: no database given")
	}
	d := &DB{}
	var err error
	if cityPath != "" {
		if d.city, err = openChecked(cityPath, nil); err != nil {
			return nil, err
		}
	}
	if asnPath != "" {
		if d.asn, err = openChecked(asnPath, nil); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// OpenBytes is Open over database contents; either may be nil.
func OpenBytes(city, asn []byte) (*DB, error) {
	if city == nil && asn == nil {
		return nil, errors.New("geoip: no database given")
	}
	d := &DB{}
	var err error
	if city != nil {
		if d.city, err = openChecked("city database", city); err != nil {
			return nil, err
		}
	}
	if asn != nil {
		if d.asn, err = openChecked("ASN database", asn); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// openChecked opens a database from path, or from data when it is not
// nil, and checks its metadata.
func openChecked(name string, data []byte) (r *maxminddb.Reader, err error) {
	defer func() {
		// The reader trusts the file's metadata in places; a corrupt file
		// must be an error, not a crash.
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("geoip: %s: corrupt database: %v", name, p)
		}
	}()
	if data != nil {
		r, err = maxminddb.OpenBytes(data)
	} else {
		r, err = maxminddb.Open(name)
	}
	if err != nil {
		return nil, fmt.Errorf("geoip: open %s: %w", name, err)
	}
	if err := CheckMetadata(r.Metadata); err != nil {
		r.Close()
		return nil, fmt.Errorf("geoip: %s: %w", name, err)
	}
	return r, nil
}

// CheckMetadata rejects a database whose metadata is not that of a sane
// MaxMind-format database.
func CheckMetadata(m maxminddb.Metadata) error {
	switch {
	case m.BinaryFormatMajorVersion != 2:
		return fmt.Errorf("binary format %d, want 2", m.BinaryFormatMajorVersion)
	case m.IPVersion != 4 && m.IPVersion != 6:
		return fmt.Errorf("ip_version %d, want 4 or 6", m.IPVersion)
	case m.NodeCount == 0:
		return errors.New("empty search tree")
	case m.RecordSize != 24 && m.RecordSize != 28 && m.RecordSize != 32:
		return fmt.Errorf("record size %d", m.RecordSize)
	case strings.TrimSpace(m.DatabaseType) == "":
		return errors.New("no database type")
	}
	return nil
}

// Close releases the databases.
func (d *DB) Close() error {
	var errs []error
	if d.city != nil {
		errs = append(errs, d.city.Close())
	}
	if d.asn != nil {
		errs = append(errs, d.asn.Close())
	}
	return errors.Join(errs...)
}

// cityRecord is the part of a GeoIP2/GeoLite2/DB-IP City record we read.
type cityRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude       *float64 `maxminddb:"latitude"`
		Longitude      *float64 `maxminddb:"longitude"`
		AccuracyRadius uint16   `maxminddb:"accuracy_radius"`
	} `maxminddb:"location"`
	ASN uint   `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

type asnRecord struct {
	ASN uint   `maxminddb:"autonomous_system_number"`
	Org string `maxminddb:"autonomous_system_organization"`
}

// Lookup locates ip. An internal address gives Country Internal without
// a lookup; an address the databases do not hold gives an empty Location
// (only IP set) and no error. A nil DB locates internal addresses only.
func (d *DB) Lookup(ip netip.Addr) (loc Location, err error) {
	ip = ip.Unmap()
	loc.IP = ip
	if !ip.IsValid() {
		return loc, errors.New("geoip: invalid address")
	}
	if IsInternal(ip) {
		loc.Country = Internal
		return loc, nil
	}
	if d == nil {
		return loc, nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("geoip: lookup %s: corrupt database: %v", ip, p)
		}
	}()
	if d.city != nil {
		var rec cityRecord
		if err := d.city.Lookup(ip).Decode(&rec); err != nil {
			return loc, fmt.Errorf("geoip: lookup %s: %w", ip, err)
		}
		loc.Country = rec.Country.ISOCode
		loc.City = rec.City.Names["en"]
		if rec.Location.Latitude != nil && rec.Location.Longitude != nil {
			loc.HasCoords, loc.Lat, loc.Lon = true, *rec.Location.Latitude, *rec.Location.Longitude
		}
		loc.RadiusKM = int(rec.Location.AccuracyRadius)
		loc.ASN, loc.Org = rec.ASN, rec.Org
	}
	if d.asn != nil {
		var rec asnRecord
		if err := d.asn.Lookup(ip).Decode(&rec); err != nil {
			return loc, fmt.Errorf("geoip: lookup %s: %w", ip, err)
		}
		if rec.ASN != 0 {
			loc.ASN, loc.Org = rec.ASN, rec.Org
		}
	}
	return loc, nil
}

// earthRadiusKM is the mean Earth radius.
const earthRadiusKM = 6371.0

// DistanceKM is the great-circle distance between two coordinates.
func DistanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * earthRadiusKM * math.Asin(math.Min(1, math.Sqrt(a)))
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
