package agent

import (
	"context"
	"fmt"
	"sync"

	"github.com/vigilsec/vigil/internal/sensor"
)

// withFallback is a sensor that starts its primary (eBPF) and, when the
// kernel refuses it, its fallback — so "auto" mode degrades per sensor and
// says why.
type withFallback struct {
	primary, fallback sensor.Sensor

	mu     sync.Mutex
	active sensor.Sensor
	reason string
}

// WithFallback returns a sensor that runs primary, or fallback when
// primary cannot start.
func WithFallback(primary, fallback sensor.Sensor) sensor.Sensor {
	return &withFallback{primary: primary, fallback: fallback}
}

func (w *withFallback) Name() string { return w.primary.Name() }

func (w *withFallback) Start(ctx context.Context, sink sensor.Sink) error {
	perr := w.primary.Start(ctx, sink)
	if perr == nil {
		w.mu.Lock()
		w.active = w.primary
		w.mu.Unlock()
		return nil
	}
	w.primary.Close()
	if err := w.fallback.Start(ctx, sink); err != nil {
		return fmt.Errorf("eBPF: %v; fallback: %w", perr, err)
	}
	w.mu.Lock()
	w.active = w.fallback
	w.reason = fmt.Sprintf("eBPF unavailable (%v); using the fallback", perr)
	w.mu.Unlock()
	return nil
}

func (w *withFallback) current() (sensor.Sensor, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.active, w.reason
}

func (w *withFallback) Status() sensor.Status {
	s, reason := w.current()
	if s == nil {
		return w.primary.Status()
	}
	st := s.Status()
	if reason != "" {
		if st.Reason != "" {
			reason += "; " + st.Reason
		}
		st.Reason = reason
	}
	return st
}

func (w *withFallback) Stats() sensor.Stats {
	if s, _ := w.current(); s != nil {
		return s.Stats()
	}
	return sensor.Stats{}
}

func (w *withFallback) Close() error {
	if s, _ := w.current(); s != nil {
		return s.Close()
	}
	return nil
}
