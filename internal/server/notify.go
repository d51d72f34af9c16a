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
	"sync/atomic"
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

// notifyReload is how often the notification settings are re-read.
const notifyReload = 10 * time.Second

// notifier forwards ingested alerts, as OCSF Detection Findings, to the
// destinations configured in the console (Settings → Notifications): a
// webhook (HMAC-signed), syslog (RFC 5424 over TCP or TLS) and Kafka.
//
// Delivery to a destination is at least once while the server runs: each
// exporter queues in memory and retries with backoff, and a batch the
// agent redelivers is exported again (receivers dedupe by alert ID, the
// record key). Alerts in a queue when the server stops are not replayed
// from the store; the console and /api/v1/alerts have them.
type notifier struct {
	st  store.Store
	log *slog.Logger

	mu   sync.Mutex
	raw  []byte // the setting the exporters were built from
	min  severity.Level
	outs []namedExporter
	seq  atomic.Uint64
}

type namedExporter struct {
	name string
	q    *export.Queue
}

func newNotifier(st store.Store, log *slog.Logger) *notifier {
	return &notifier{st: st, log: log}
}

// run reloads the settings until ctx ends, then closes the exporters.
func (n *notifier) run(ctx context.Context) {
	t := time.NewTicker(notifyReload)
	defer t.Stop()
	for {
		if err := n.reload(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("notifications not configured", "error", err)
		}
		select {
		case <-ctx.Done():
			n.mu.Lock()
			outs := n.outs
			n.outs = nil
			n.mu.Unlock()
			closeAll(outs)
			return
		case <-t.C:
		}
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

// alerts exports a host's stored alerts (link.Options.OnAlerts).
func (n *notifier) alerts(hostID string, as []alert.Alert) {
	n.mu.Lock()
	outs, min := n.outs, n.min
	n.mu.Unlock()
	if len(outs) == 0 {
		return
	}
	recs := make([]export.Record, 0, len(as))
	for i := range as {
		a := &as[i]
		if a.Severity < min {
			continue
		}
		r, err := export.AlertRecord(n.seq.Add(1), a, ocsf.Options{ProductVersion: version.String()})
		if err != nil {
			n.log.Warn("alert not exported", "alert", a.ID, "error", err)
			continue
		}
		if r.Host == "" {
			r.Host = hostID
		}
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		return
	}
	for _, o := range outs {
		if err := o.q.Export(context.Background(), recs); err != nil {
			n.log.Warn("alerts not queued for export", "to", o.name, "error", err)
		}
	}
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
