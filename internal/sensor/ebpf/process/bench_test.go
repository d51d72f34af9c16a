package process

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/event"
	"github.com/vigilsec/vigil/internal/sensor"
	"github.com/vigilsec/vigil/internal/testutil"
)

// BenchmarkSensorOverhead runs an exec storm (a helper process executing
// /bin/true) alternately with the sensor detached and attached, six rounds
// each, and reports the median ratio of the storm's CPU time with/without
// (storm_ratio: in-kernel cost) and of storm plus sensor reader CPU to the
// bare storm (total_ratio). Set VIGIL_STORM_N to change the storm size.
func BenchmarkSensorOverhead(b *testing.B) {
	testutil.RequireBPF(b)
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("VIGIL_STORM_N")); err == nil && v > 0 {
		n = v
	}
	const rounds = 6
	var stormRatios, totalRatios []float64
	for b.Loop() {
		stormRatios, totalRatios = stormRatios[:0], totalRatios[:0]
		for r := 0; r < rounds; r++ {
			off := runStorm(b, n)
			s := New(Config{})
			if err := s.Start(context.Background(), sensor.SinkFunc(func(*event.Event) bool { return true })); err != nil {
				b.Fatal(err)
			}
			selfBefore := selfCPU()
			on := runStorm(b, n)
			time.Sleep(50 * time.Millisecond) // let the reader drain
			reader := selfCPU() - selfBefore
			st := s.Stats()
			s.Close()
			if st.Events < uint64(n) {
				b.Fatalf("sensor delivered %d events for %d execs", st.Events, n)
			}
			stormRatios = append(stormRatios, float64(on)/float64(off))
			totalRatios = append(totalRatios, float64(on+reader)/float64(off))
		}
	}
	b.ReportMetric(median(stormRatios), "storm_ratio")
	b.ReportMetric(median(totalRatios), "total_ratio")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func runStorm(b *testing.B, n int) time.Duration {
	out, err := helper("storm", strconv.Itoa(n)).Output()
	if err != nil {
		b.Fatalf("storm: %v", err)
	}
	var r stormResult
	if err := json.Unmarshal(out, &r); err != nil {
		b.Fatalf("storm output %q: %v", out, err)
	}
	return r.CPU
}

// selfCPU is this process's user+system time (the sensor's reader).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
