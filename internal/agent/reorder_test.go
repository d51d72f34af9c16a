package agent

import (
	"testing"
	"time"

	"github.com/vigilsec/vigil/internal/event"
)

func TestReorderBuffer(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int, kind event.Kind) *event.Event {
		return &event.Event{Kind: kind, Time: base.Add(time.Duration(ms) * time.Millisecond)}
	}
	rb := &reorderBuffer{delay: 15 * time.Millisecond, max: 3}
	// The file write arrives before the exec that preceded it.
	for _, ev := range []*event.Event{at(5, event.File), at(2, event.Exec), at(5, event.Connect)} {
		if !rb.push(ev) {
			t.Fatal("timed event not held")
		}
	}
	if ev, wait := rb.pop(base.Add(10 * time.Millisecond)); ev != nil || wait != 7*time.Millisecond {
		t.Fatalf("pop before due = %v, %v; want nothing for 7ms", ev, wait)
	}
	var got []event.Kind
	for {
		ev, _ := rb.pop(base.Add(time.Second))
		if ev == nil {
			break
		}
		got = append(got, ev.Kind)
	}
	if want := []event.Kind{event.Exec, event.File, event.Connect}; len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("order %v, want %v (time order, arrival order for ties)", got, want)
	}
	// An event without a time is not held; the bound releases early.
	if rb.push(&event.Event{Kind: event.Exit}) {
		t.Error("untimed event held")
	}
	for i := 0; i < 5; i++ {
		rb.push(at(100+i, event.Fork))
	}
	if ev, _ := rb.pop(base); ev == nil || !ev.Time.Equal(base.Add(100*time.Millisecond)) {
		t.Errorf("over the bound, pop = %v; want the oldest at once", ev)
	}
	if n := len(rb.drain()); n != 4 {
		t.Errorf("drain returned %d events, want 4", n)
	}
}
