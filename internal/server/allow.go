package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/web"
)

// errBadAllowList: the stored allow-list does not decode. Alerts then go
// on unfiltered (it only silences) and the error is logged.
var errBadAllowList = errors.New("allow-list setting is not valid JSON")

// allowCacheFor is how long the allow-list setting is trusted.
const allowCacheFor = 5 * time.Second

// allowList applies the console's alert allow-list (an analyst's "Add to
// allow-list" on an alert) to new alerts from the outbox: a matching alert
// is closed as ignored, with a comment naming the entry and an audit
// entry, and is not exported. Agents still raise it; the server keeps
// the record of what was silenced and why.
type allowList struct {
	st store.Store

	mu         sync.Mutex
	entries    []web.AllowEntry
	err        error     // errBadAllowList when the setting does not decode
	read       time.Time // when entries were read; zero before the first read
	refreshing bool      // a background read is under way
}

// load returns the allow-list, read from the store when the copy is older
// than allowCacheFor. A caller that must not wait on the store (the
// heartbeat path: one slow read would hold up every agent's ack) passes
// wait=false and gets the copy it has while one background read refreshes
// it; only the first read of all is waited for.
func (l *allowList) load(ctx context.Context, now time.Time, wait bool) ([]web.AllowEntry, error) {
	l.mu.Lock()
	fresh := !l.read.IsZero() && now.Sub(l.read) < allowCacheFor
	if fresh || (!wait && !l.read.IsZero()) {
		if !fresh && !l.refreshing {
			l.refreshing = true
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				l.refresh(ctx, now)
			}()
		}
		entries, err := l.entries, l.err
		l.mu.Unlock()
		return entries, err
	}
	l.mu.Unlock()
	return l.refresh(ctx, now)
}

// refresh reads the setting. When the store fails, the copy in hand is
// kept (and returned with the error) and the next load tries again.
func (l *allowList) refresh(ctx context.Context, now time.Time) ([]web.AllowEntry, error) {
	raw, err := l.st.GetSetting(ctx, web.AllowListKey)
	var v struct {
		Entries []web.AllowEntry `json:"entries"`
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = nil
	case err != nil:
		l.mu.Lock()
		defer l.mu.Unlock()
		l.refreshing = false
		return l.entries, err
	default:
		if jerr := json.Unmarshal(raw, &v); jerr != nil {
			v.Entries, err = nil, fmt.Errorf("setting %s: %w: %v", web.AllowListKey, errBadAllowList, jerr)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.err, l.read, l.refreshing = v.Entries, err, now, false
	return l.entries, l.err
}

// policy is the part of the allow-list that applies to hostID, for its
// agent: with it, the agent skips the response (kill, quarantine, block)
// of an allowed alert, not only the server's export.
// (link.Options.Policy.)
func (l *allowList) policy(ctx context.Context, hostID string) (*vigilv1.Policy, error) {
	entries, err := l.load(ctx, time.Now(), false)
	if err != nil {
		return nil, err
	}
	p := &vigilv1.Policy{}
	h := sha256.New()
	for _, e := range entries {
		if e.HostID != "" && e.HostID != hostID {
			continue
		}
		p.Allow = append(p.Allow, &vigilv1.AllowEntry{Id: e.ID, RuleId: e.RuleID, Exe: e.Exe})
		fmt.Fprintf(h, "%q %q %q\n", e.ID, e.RuleID, e.Exe)
	}
	p.Version = hex.EncodeToString(h.Sum(nil)[:12])
	return p, nil
}

// match returns the entry that allows a on host hostID, if any.
func match(entries []web.AllowEntry, hostID string, a *alert.Alert) (web.AllowEntry, bool) {
	for _, e := range entries {
		if e.RuleID != a.Rule.ID || (e.HostID != "" && e.HostID != hostID) {
			continue
		}
		if e.Exe != "" && (a.Process == nil || a.Process.Exe != e.Exe) {
			continue
		}
		return e, true
	}
	return web.AllowEntry{}, false
}

// apply closes the allowed alerts among as and returns the others.
func (l *allowList) apply(ctx context.Context, hostID string, as []alert.Alert, now time.Time) ([]alert.Alert, error) {
	entries, err := l.load(ctx, now, true)
	if err != nil || len(entries) == 0 {
		return as, err
	}
	var keep []alert.Alert
	var errs []error
	for i := range as {
		e, ok := match(entries, hostID, &as[i])
		if !ok {
			keep = append(keep, as[i])
			continue
		}
		rec, err := l.st.GetAlert(ctx, as[i].ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if rec.Status != store.StatusOpen {
			continue // handled already (a redelivered batch)
		}
		text := fmt.Sprintf("Closed by allow-list entry %s (from alert %s by %s)", e.ID, e.AlertID, e.CreatedBy)
		if e.Comment != "" {
			text += ": " + e.Comment
		}
		_, err = l.st.UpdateAlert(ctx, store.AlertUpdate{ID: rec.Alert.ID, Version: rec.Version, Status: store.StatusIgnored,
			Assignee: rec.Assignee, Comment: &store.Comment{Time: now, Author: "system", Text: text}, At: now, Actor: "system"})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			errs = append(errs, err)
		}
	}
	return keep, errors.Join(errs...)
}
