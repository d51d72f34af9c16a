package login

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/authlog"
	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/geoip"
	"github.com/vigilsec/vigil/internal/geoip/geoiptest"
)

// BenchmarkPipeline measures converted records per second through the
// shipped auth rules and the analyzer with a GeoIP database: a mix of
// failures from many addresses and successful logins.
func BenchmarkPipeline(b *testing.B) {
	rs, err := LoadRules()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := detect.New(rs, detect.Options{})
	if err != nil {
		b.Fatal(err)
	}
	geo, err := geoip.OpenBytes(geoiptest.City(b, geoiptest.Places), geoiptest.ASN(b, geoiptest.Places))
	if err != nil {
		b.Fatal(err)
	}
	an, _ := New(Config{}, geo, nil)
	p := &Pipeline{Engine: eng, Analyzer: an}
	recs := make([]authlog.Event, 1024)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range recs {
		r := authlog.Event{Time: t0.Add(time.Duration(i) * time.Second), Service: "sshd", Kind: authlog.KindFailure,
			Method: "password", User: fmt.Sprintf("user%d", i%37), Count: 1,
			SourceIP: netip.AddrFrom4([4]byte{203, 0, 113, byte(i % 200)})}
		if i%16 == 0 {
			r.Kind, r.Method, r.SourceIP = authlog.KindSuccess, "publickey", netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 250)})
		}
		recs[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := recs[i%len(recs)]
		r.Time = r.Time.Add(time.Duration(i/len(recs)) * 1024 * time.Second)
		p.Handle(r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
