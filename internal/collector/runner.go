package collector

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/plugin"
)

// Run runs every collector, concurrently where their dependencies allow,
// and returns the merged inventory and a status per collector. A failing
// or panicking collector is recorded in its status and never stops the
// others.
func Run(ctx context.Context, in *Input, collectors []Collector) (*inventory.Inventory, map[string]plugin.Status) {
	done := make(map[string]chan struct{}, len(collectors))
	for _, c := range collectors {
		done[c.Name()] = make(chan struct{})
	}
	results := make(map[string]*Result, len(collectors))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range collectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[c.Name()])
			cin := *in
			if d, ok := c.(Dependent); ok {
				prior := &inventory.Inventory{}
				for _, dep := range d.DependsOn() {
					ch, ok := done[dep]
					if !ok {
						continue // not selected: run without it
					}
					select {
					case <-ch:
					case <-ctx.Done():
					}
					mu.Lock()
					if r := results[dep]; r != nil && r.Inventory != nil {
						prior.Merge(r.Inventory)
					}
					mu.Unlock()
				}
				cin.Prior = prior
			}
			r := runOne(ctx, &cin, c)
			mu.Lock()
			results[c.Name()] = r
			mu.Unlock()
		}()
	}
	wg.Wait()

	inv := &inventory.Inventory{}
	status := make(map[string]plugin.Status, len(collectors))
	for _, c := range collectors {
		r := results[c.Name()]
		status[c.Name()] = r.Status
		if r.Inventory != nil {
			inv.Merge(r.Inventory)
		}
	}
	return inv, status
}

func runOne(ctx context.Context, in *Input, c Collector) (r *Result) {
	start := time.Now()
	r = &Result{Name: c.Name()}
	defer func() {
		if p := recover(); p != nil {
			r.Inventory = nil
			r.Status = plugin.Status{
				State: plugin.StateFailed,
				Error: fmt.Sprintf("collector panicked: %v\n%s", p, debug.Stack()),
			}
		}
		r.Duration = time.Since(start)
	}()
	if err := ctx.Err(); err != nil {
		r.Status = plugin.StatusFromErr(err)
		return r
	}
	inv, err := c.Collect(ctx, in)
	r.Status = plugin.StatusFromErr(err)
	if r.Status.State == plugin.StateSucceeded || r.Status.State == plugin.StatePartial {
		r.Inventory = inv
	}
	return r
}
