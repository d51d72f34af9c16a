package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilsec/vigil/internal/detect"
	"github.com/vigilsec/vigil/internal/enrich"
	"github.com/vigilsec/vigil/internal/respond/execguard"
)

// agentCollector exposes the agent's counters at scrape time, so the hot
// path keeps plain atomics and never touches the Prometheus client.
type agentCollector struct{ a *Agent }

var (
	descEvents     = prometheus.NewDesc("vigil_events_total", "Events handled by the pipeline, by kind.", []string{"kind"}, nil)
	descSensorEv   = prometheus.NewDesc("vigil_sensor_events_total", "Events a sensor delivered to the queue.", []string{"sensor", "mode"}, nil)
	descDropped    = prometheus.NewDesc("vigil_events_dropped_total", "Events lost, by sensor and where: kernel (ring buffer or netlink/fanotify queue full), queue (agent queue full), decode (unreadable record).", []string{"sensor", "stage"}, nil)
	descFiltered   = prometheus.NewDesc("vigil_sensor_filtered_total", "Events discarded in the kernel by path or kind filters (not a loss).", []string{"sensor"}, nil)
	descQueue      = prometheus.NewDesc("vigil_queue_depth", "Events waiting between the sensors and the engine.", nil, nil)
	descQueueCap   = prometheus.NewDesc("vigil_queue_capacity", "Capacity of the event queue.", nil, nil)
	descRuleHits   = prometheus.NewDesc("vigil_rule_hits_total", "Alerts raised, by rule.", []string{"rule"}, nil)
	descAlerts     = prometheus.NewDesc("vigil_alerts_total", "Alerts raised, by severity.", []string{"severity"}, nil)
	descResponses  = prometheus.NewDesc("vigil_responses_total", "Response actions, by action and result.", []string{"action", "result"}, nil)
	descRSS        = prometheus.NewDesc("vigil_agent_rss_bytes", "Resident memory of the agent.", nil, nil)
	descCPU        = prometheus.NewDesc("vigil_agent_cpu_seconds_total", "CPU time used by the agent.", nil, nil)
	descReady      = prometheus.NewDesc("vigil_agent_ready", "1 once sensors are attached.", nil, nil)
	descSensorMode = prometheus.NewDesc("vigil_sensor_mode", "1 for the mode each sensor runs in.", []string{"sensor", "mode"}, nil)
)

func (c *agentCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvents, descSensorEv, descDropped, descFiltered, descQueue, descQueueCap,
		descRuleHits, descAlerts, descResponses, descRSS, descCPU, descReady, descSensorMode} {
		ch <- d
	}
}

func (c *agentCollector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	st := a.status()
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for k, v := range st.EventsKind {
		counter(descEvents, float64(v), k)
	}
	for _, s := range st.Sensors {
		counter(descSensorEv, float64(s.Stats.Events), s.Name, string(s.Mode))
		counter(descDropped, float64(s.Stats.KernelDropped), s.Name, "kernel")
		counter(descDropped, float64(s.QueueDrops), s.Name, "queue")
		counter(descDropped, float64(s.Stats.Errors), s.Name, "decode")
		counter(descFiltered, float64(s.Stats.Filtered), s.Name)
		gauge(descSensorMode, 1, s.Name, string(s.Mode))
	}
	gauge(descQueue, float64(st.QueueLen))
	gauge(descQueueCap, float64(st.QueueCap))
	for id, v := range st.RuleHits {
		counter(descRuleHits, float64(v), id)
	}
	a.mu.Lock()
	for sev, v := range a.sevCounts {
		counter(descAlerts, float64(v), sev)
	}
	for k, v := range a.responses {
		counter(descResponses, float64(v), k[0], k[1])
	}
	a.mu.Unlock()
	gauge(descRSS, float64(st.RSSBytes))
	counter(descCPU, st.CPUSeconds)
	ready := 0.0
	if st.Ready {
		ready = 1
	}
	gauge(descReady, ready)
}

// engineCollector exposes the engine's, the process table's and the exec
// guard's counters.
type engineCollector struct {
	e     *detect.Engine
	en    *enrich.Enricher
	guard *execguard.ExecGuard
}

var (
	descAllowed    = prometheus.NewDesc("vigil_rule_allowed_total", "Rule matches dropped by an allow-list entry.", []string{"rule"}, nil)
	descSuppressed = prometheus.NewDesc("vigil_rule_suppressed_total", "Repeats folded into an earlier alert.", []string{"rule"}, nil)
	descEvalErrors = prometheus.NewDesc("vigil_rule_eval_errors_total", "Rule evaluations that failed.", []string{"rule"}, nil)
	descAggEvict   = prometheus.NewDesc("vigil_rule_aggregation_evictions_total", "Aggregation groups evicted at the memory bound.", []string{"rule"}, nil)
	descProcTable  = prometheus.NewDesc("vigil_process_table_entries", "Processes in the process table.", nil, nil)
	descProcEvict  = prometheus.NewDesc("vigil_process_table_evicted_total", "Processes evicted from the full table.", nil, nil)
	descUnresolved = prometheus.NewDesc("vigil_enrich_unresolved_total", "Events whose process neither the table nor /proc knew.", nil, nil)
	descHashDrop   = prometheus.NewDesc("vigil_enrich_hash_dropped_total", "Executable hashes not computed because the queue was full.", nil, nil)
	descGuard      = prometheus.NewDesc("vigil_exec_guard_total", "Exec permission decisions, by outcome.", []string{"outcome"}, nil)
)

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAllowed, descSuppressed, descEvalErrors, descAggEvict, descProcTable,
		descProcEvict, descUnresolved, descHashDrop, descGuard} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	st := c.e.Stats()
	for _, m := range []struct {
		d *prometheus.Desc
		v map[string]uint64
	}{{descAllowed, st.Allowed}, {descSuppressed, st.Suppressed}, {descEvalErrors, st.EvalErrors}, {descAggEvict, st.Evictions}} {
		for id, v := range m.v {
			counter(m.d, float64(v), id)
		}
	}
	es := c.en.Stats()
	ch <- prometheus.MustNewConstMetric(descProcTable, prometheus.GaugeValue, float64(es.Table.Entries))
	counter(descProcEvict, float64(es.Table.Evicted))
	counter(descUnresolved, float64(es.Unresolved))
	counter(descHashDrop, float64(es.HashDropped))
	if c.guard != nil {
		gs := c.guard.Stats()
		counter(descGuard, float64(gs.Allowed), "allowed")
		counter(descGuard, float64(gs.Denied), "denied")
		counter(descGuard, float64(gs.Timeouts), "timeout")
		counter(descGuard, float64(gs.HashErrors), "hash_error")
		counter(descGuard, float64(gs.Overflows), "overflow")
	}
}
