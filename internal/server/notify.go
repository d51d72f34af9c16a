package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/export"
	"github.com/vigilsec/vigil/internal/export/kafka"
	"github.com/vigilsec/vigil/internal/export/ocsf"
	"github.com/vigilsec/vigil/internal/export/syslog"
	"github.com/vigilsec/vigil/internal/export/webhook"
	"github.com/vigilsec/vigil/internal/server/store"
	"github.com/vigilsec/vigil/internal/server/web"
	"github.com/vigilsec/vigil/internal/severity"
	"github.com/vigilsec/vigil/internal/version"
)

const (
	// notifyReload is how often the notification settings are re-read.
	notifyReload = 10 * time.Second
	// outboxPoll is how often the outbox is read when nothing kicks it
	// (alerts stored by another server replica).
	outboxPoll = 2 * time.Second
	// outboxBatch is how many alerts are handled at a time.
	outboxBatch = 500
	// flushWait is how long one wait for a destination lasts before it is
	// logged and started again.
	flushWait = 30 * time.Second
)

// notifier handles every new alert once: it applies the console's
// allow-list and forwards the rest, as OCSF Detection Findings, to the
// destinations configured in the console (Settings → Notifications): a
// webhook (HMAC-signed), syslog (RFC 5424 over TCP or TLS) and Kafka.
//
// It works from the store's alert outbox, which the transaction that
// stores a new alert adds to: a batch of alerts is read, the allow-list is
// applied, the rest are queued to every destination, and only once every
// destination has taken them (or refused them for good) are they removed
// from the outbox. So delivery is at least once across server restarts
// and crashes (receivers dedupe by alert ID, the record key), a
// redelivered agent batch is not exported twice, and while a destination
// is down alerts wait in the store, not in memory. One slow destination
// holds back the others.
type notifier struct {
	st    store.Store
	allow *allowList
	log   *slog.Logger
	kicks chan struct{}
	// primary reports whether this replica exports (the primary lease);
	// nil means it always does. Of several replicas one drains the
	// outbox, so an alert goes out once and each host's alerts in order.
	primary func() bool

	mu   sync.Mutex
	raw  []byte // the setting the exporters were built from
	min  severity.Level
	outs []namedExporter
}

type namedExporter struct {
	name string
	q    *export.Queue
}

func newNotifier(st store.Store, allow *allowList, log *slog.Logger) *notifier {
	return &notifier{st: st, allow: allow, log: log, kicks: make(chan struct{}, 1)}
}

// kick makes the notifier read the outbox now (link.Options.OnAlerts).
func (n *notifier) kick() {
	select {
	case n.kicks <- struct{}{}:
	default:
	}
}

// run reloads the settings and drains the outbox until ctx ends, then
// closes the exporters.
func (n *notifier) run(ctx context.Context) {
	reload := time.NewTicker(notifyReload)
	defer reload.Stop()
	poll := time.NewTicker(outboxPoll)
	defer poll.Stop()
	n.reloadLogged(ctx)
	for {
		if err := n.drain(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("alert outbox", "error", err)
		}
		select {
		case <-ctx.Done():
			n.mu.Lock()
			outs := n.outs
			n.outs = nil
			n.mu.Unlock()
			closeAll(outs)
			return
		case <-reload.C:
			n.reloadLogged(ctx)
		case <-poll.C:
		case <-n.kicks:
		}
	}
}

func (n *notifier) reloadLogged(ctx context.Context) {
	if err := n.reload(ctx); err != nil && ctx.Err() == nil {
		n.log.Warn("notifications not configured", "error", err)
	}
}

// reload rebuilds the exporters when the setting changed.
func (n *notifier) reload(ctx context.Context) error {
	raw, err := n.st.GetSetting(ctx, web.NotificationsKey)
	if errors.Is(err, store.ErrNotFound) {
		raw, err = nil, nil
	}
	if err != nil {
		return err
	}
	n.mu.Lock()
	same := bytes.Equal(raw, n.raw) && (raw != nil || n.outs == nil)
	n.mu.Unlock()
	if same {
		return nil
	}
	var cfg web.Notifications
	if raw != nil {
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return fmt.Errorf("setting %s: %w", web.NotificationsKey, err)
		}
	}
	outs, min, err := buildExporters(cfg)
	n.mu.Lock()
	old := n.outs
	n.raw, n.outs, n.min = raw, outs, min
	n.mu.Unlock()
	closeAll(old)
	for _, o := range outs {
		n.log.Info("exporting alerts", "to", o.name, "min_severity", min.String())
	}
	return err
}

// buildExporters makes what cfg names; a destination that cannot be
// made is left out and reported, the others still run.
func buildExporters(cfg web.Notifications) ([]namedExporter, severity.Level, error) {
	var min severity.Level
	if cfg.MinSeverity != "" {
		l, err := severity.Parse(cfg.MinSeverity)
		if err != nil {
			return nil, 0, fmt.Errorf("min_severity: %w", err)
		}
		min = l
	}
	var outs []namedExporter
	var errs []error
	if cfg.Webhook.URL != "" {
		q, err := webhook.NewExporter(webhook.Config{URL: cfg.Webhook.URL, Secret: []byte(cfg.Webhook.Secret), Batch: cfg.Webhook.Batch}, export.Options{})
		if err != nil {
			errs = append(errs, err)
		} else {
			outs = append(outs, namedExporter{"webhook", q})
		}
	}
	if cfg.Syslog.Addr != "" {
		sc := syslog.Config{Addr: cfg.Syslog.Addr}
		if cfg.Syslog.TLS {
			sc.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		s, err := syslog.New(sc)
		if err != nil {
			errs = append(errs, err)
		} else {
			outs = append(outs, namedExporter{"syslog", export.New(s, export.Options{})})
		}
	}
	if len(cfg.Kafka.Brokers) > 0 && cfg.Kafka.Topic != "" {
		s, err := kafka.New(kafka.Config{Brokers: cfg.Kafka.Brokers, Topic: cfg.Kafka.Topic})
		if err != nil {
			errs = append(errs, err)
		} else {
			outs = append(outs, namedExporter{"kafka", export.New(s, export.Options{})})
		}
	}
	return outs, min, errors.Join(errs...)
}

func closeAll(outs []namedExporter) {
	for _, o := range outs {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		o.q.Flush(ctx)
		cancel()
		o.q.Close()
	}
}

// drain handles the outbox until it is empty, or until this replica is no
// longer the primary.
func (n *notifier) drain(ctx context.Context) error {
	for {
		if n.primary != nil && !n.primary() {
			return nil
		}
		items, err := n.st.OutboxAlerts(ctx, outboxBatch)
		if err != nil || len(items) == 0 {
			return err
		}
		if err := n.handle(ctx, items); err != nil {
			return err
		}
		seqs := make([]int64, len(items))
		for i, it := range items {
			seqs[i] = it.Seq
		}
		if err := n.st.DeleteOutbox(ctx, seqs); err != nil {
			return err
		}
	}
}

// handle applies the allow-list to items and delivers the rest to every
// destination. An error leaves the items in the outbox for another try.
func (n *notifier) handle(ctx context.Context, items []store.OutboxAlert) error {
	now := time.Now().UTC()
	var keep []alert.Alert
	var seqOf = make(map[string]int64, len(items))
	for start := 0; start < len(items); {
		// Runs of one host's alerts, in outbox order.
		host := items[start].Record.Alert.Host
		end := start
		var as []alert.Alert
		for end < len(items) && items[end].Record.Alert.Host == host {
			if items[end].Record.Status == store.StatusOpen {
				as = append(as, items[end].Record.Alert)
				seqOf[items[end].Record.Alert.ID] = items[end].Seq
			}
			end++
		}
		kept, err := n.allow.apply(ctx, host, as, now)
		switch {
		case errors.Is(err, errBadAllowList):
			n.log.Error("allow-list not applied", "error", err)
			kept = as
		case err != nil:
			return fmt.Errorf("allow-list: %w", err) // the store: try again
		}
		keep = append(keep, kept...)
		start = end
	}
	n.mu.Lock()
	outs, min := n.outs, n.min
	n.mu.Unlock()
	if len(outs) == 0 {
		return nil
	}
	recs := make([]export.Record, 0, len(keep))
	for i := range keep {
		a := &keep[i]
		if a.Severity < min {
			continue
		}
		r, err := export.AlertRecord(uint64(seqOf[a.ID]), a, ocsf.Options{ProductVersion: version.String()})
		if err != nil {
			n.log.Warn("alert not exported", "alert", a.ID, "error", err)
			continue
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		return nil
	}
	for _, o := range outs {
		if err := o.q.Export(ctx, recs); err != nil {
			return fmt.Errorf("queue for %s: %w", o.name, err)
		}
	}
	for _, o := range outs {
		for {
			fctx, cancel := context.WithTimeout(ctx, flushWait)
			err := o.q.Flush(fctx)
			cancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil || errors.Is(err, export.ErrClosed) {
				// Stopping, or the destination was reconfigured: the
				// alerts stay in the outbox and go out again.
				return fmt.Errorf("deliver to %s: %w", o.name, err)
			}
			n.log.Warn("destination not taking alerts; waiting", "to", o.name, "waiting", len(recs), "error", err)
		}
	}
	return nil
}

// writeMetrics adds each destination's counters to /metrics.
func (n *notifier) writeMetrics(w io.Writer) {
	n.mu.Lock()
	outs := n.outs
	n.mu.Unlock()
	fmt.Fprintf(w, "# HELP vigil_server_export_records_total Alerts exported, by destination and outcome.\n")
	fmt.Fprintf(w, "# TYPE vigil_server_export_records_total counter\n")
	for _, o := range outs {
		st := o.q.Stats()
		fmt.Fprintf(w, "vigil_server_export_records_total{to=%q,outcome=\"delivered\"} %d\n", o.name, st.Delivered)
		fmt.Fprintf(w, "vigil_server_export_records_total{to=%q,outcome=\"dropped\"} %d\n", o.name, st.Dropped)
		fmt.Fprintf(w, "vigil_server_export_records_total{to=%q,outcome=\"rejected\"} %d\n", o.name, st.Rejected)
	}
}
