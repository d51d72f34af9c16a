package agent

import (
	"container/heap"
	"time"

	"github.com/vigilsec/vigil/internal/event"
)

// DefaultReorderDelay is how long the pipeline holds an event so that
// events from other sensors that happened earlier can overtake it.
//
// Each sensor has its own ring buffer read on its own schedule (batched
// wake-ups, a poll every 10 ms), so a process's exec can reach the agent
// after the file write that process made right after it. Judged in arrival
// order, the write would be pinned on the image before the exec — the
// parent's. Holding events for a little longer than one poll period and
// releasing them in kernel-time order fixes that, at the cost of that much
// latency.
const DefaultReorderDelay = 15 * time.Millisecond

// reorderBuffer orders events by kernel time. It never drops: when it
// holds max events it releases the oldest early.
type reorderBuffer struct {
	h     eventHeap
	delay time.Duration
	max   int
	seq   uint64
}

type heldEvent struct {
	ev  *event.Event
	seq uint64 // arrival order, to keep equal times stable
}

type eventHeap []heldEvent

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if !h[i].ev.Time.Equal(h[j].ev.Time) {
		return h[i].ev.Time.Before(h[j].ev.Time)
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(heldEvent)) }
func (h *eventHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = heldEvent{}
	*h = old[:len(old)-1]
	return x
}

// push adds an event; an event without a time goes straight through
// (returned to be handled now).
func (b *reorderBuffer) push(ev *event.Event) bool {
	if ev.Time.IsZero() || b.delay <= 0 {
		return false
	}
	b.seq++
	heap.Push(&b.h, heldEvent{ev: ev, seq: b.seq})
	return true
}

// pop returns the next event due at now (or forced out by the bound), and
// how long until the next one is due when none is.
func (b *reorderBuffer) pop(now time.Time) (*event.Event, time.Duration) {
	if len(b.h) == 0 {
		return nil, -1
	}
	first := b.h[0].ev
	due := first.Time.Add(b.delay)
	if !now.Before(due) || len(b.h) > b.max {
		return heap.Pop(&b.h).(heldEvent).ev, 0
	}
	return nil, due.Sub(now)
}

// drain returns every held event in order.
func (b *reorderBuffer) drain() []*event.Event {
	out := make([]*event.Event, 0, len(b.h))
	for len(b.h) > 0 {
		out = append(out, heap.Pop(&b.h).(heldEvent).ev)
	}
	return out
}
