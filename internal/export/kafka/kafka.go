// Package kafka delivers OCSF records to a Kafka topic with franz-go: an
// idempotent producer (exactly-once per partition across retries, acks
// from all in-sync replicas), keyed by host or by record key so a host's
// records stay in order on one partition, with TLS and SASL (PLAIN,
// SCRAM-SHA-256, SCRAM-SHA-512) options.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/vigilsec/vigil/internal/export"
)

// Key choices.
const (
	KeyHost = "host" // the record's host: per-host ordering (default)
	KeyID   = "id"   // the record's idempotency key: even spread
)

// SASL mechanisms.
const (
	SASLPlain       = "PLAIN"
	SASLScramSHA256 = "SCRAM-SHA-256"
	SASLScramSHA512 = "SCRAM-SHA-512"
)

// Record header names.
const (
	HeaderKey     = "vigil-key"
	HeaderClass   = "ocsf-class-uid"
	HeaderSeq     = "vigil-seq"
	HeaderContent = "content-type"
)

// Config configures a Kafka destination.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// Topic receives the records.
	Topic string
	// KeyBy is KeyHost (default) or KeyID. Records without a host fall
	// back to their ID.
	KeyBy string
	// TLSConfig enables TLS when set.
	TLSConfig *tls.Config
	// SASLMechanism ("" for none), SASLUser and SASLPassword configure
	// authentication.
	SASLMechanism, SASLUser, SASLPassword string
	// ClientID names the client to the brokers (default "vigil").
	ClientID string
	// DeliveryTimeout bounds how long franz-go retries one batch before
	// Send gives up and the exporter's backoff takes over (default 30s).
	DeliveryTimeout time.Duration
	// ExtraOpts are appended to the client options (tests, tuning).
	ExtraOpts []kgo.Opt
}

// Sender produces records to Kafka. It implements export.Sender.
type Sender struct {
	cfg Config
	cl  *kgo.Client
	// acked holds records acknowledged after an earlier record of their
	// batch failed: the exporter hands them back on the next Send, which
	// counts them as delivered instead of writing them twice.
	acked map[ackKey]bool
}

type ackKey struct {
	seq uint64
	key string
}

// New checks cfg and makes a Sender. franz-go connects lazily, so an
// unreachable cluster shows up as Send errors.
func New(cfg Config) (*Sender, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	if cfg.Topic == "" {
		return nil, errors.New("kafka: no topic")
	}
	if len(cfg.Topic) > 249 || strings.Trim(cfg.Topic, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" || cfg.Topic == "." || cfg.Topic == ".." {
		return nil, fmt.Errorf("kafka topic %q: want 1-249 of [a-zA-Z0-9._-]", cfg.Topic)
	}
	switch cfg.KeyBy {
	case "":
		cfg.KeyBy = KeyHost
	case KeyHost, KeyID:
	default:
		return nil, fmt.Errorf("kafka key_by %q: want %q or %q", cfg.KeyBy, KeyHost, KeyID)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "vigil"
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = 30 * time.Second
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.ClientID(cfg.ClientID),
		// Idempotent writes are franz-go's default and need acks=all;
		// both are stated so a later default change cannot drop them.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.ProducerLinger(5 * time.Millisecond),
	}
	if cfg.TLSConfig != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLSConfig))
	}
	if cfg.SASLMechanism != "" {
		m, err := mechanism(cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	opts = append(opts, cfg.ExtraOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return &Sender{cfg: cfg, cl: cl}, nil
}

func mechanism(cfg Config) (sasl.Mechanism, error) {
	if cfg.SASLUser == "" {
		return nil, fmt.Errorf("kafka sasl %s: no user", cfg.SASLMechanism)
	}
	switch strings.ToUpper(cfg.SASLMechanism) {
	case SASLPlain:
		return plain.Auth{User: cfg.SASLUser, Pass: cfg.SASLPassword}.AsMechanism(), nil
	case SASLScramSHA256:
		return scram.Auth{User: cfg.SASLUser, Pass: cfg.SASLPassword}.AsSha256Mechanism(), nil
	case SASLScramSHA512:
		return scram.Auth{User: cfg.SASLUser, Pass: cfg.SASLPassword}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("kafka sasl mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", cfg.SASLMechanism)
}

// NewExporter makes a Sender and the queue in front of it.
func NewExporter(cfg Config, opts export.Options) (*export.Queue, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return export.New(s, opts), nil
}

// Key returns the message key of a record.
func (s *Sender) Key(r export.Record) string {
	if s.cfg.KeyBy == KeyHost && r.Host != "" {
		return r.Host
	}
	return r.Key
}

// Send implements export.Sender: it produces the batch and waits for every
// acknowledgement. When a record fails, the ones after it that were
// acknowledged are remembered and not written again when the exporter
// retries the rest.
func (s *Sender) Send(ctx context.Context, recs []export.Record) (int, error) {
	prev := s.acked
	s.acked = nil
	krs := make([]*kgo.Record, 0, len(recs))
	index := make(map[*kgo.Record]int, len(recs))
	for i, r := range recs {
		if prev[ackKey{r.Seq, r.Key}] {
			continue
		}
		kr := &kgo.Record{
			Key:   []byte(s.Key(r)),
			Value: r.Data,
			Headers: []kgo.RecordHeader{
				{Key: HeaderKey, Value: []byte(r.Key)},
				{Key: HeaderClass, Value: []byte(strconv.Itoa(r.Class))},
				{Key: HeaderSeq, Value: []byte(strconv.FormatUint(r.Seq, 10))},
				{Key: HeaderContent, Value: []byte("application/json")},
			},
		}
		// The Kafka timestamp stays the produce time: a replayed record
		// stamped with its old event time would count as timed out in
		// franz-go and could fall straight out of a topic's retention.
		// The event time is the OCSF time field.
		krs = append(krs, kr)
		index[kr] = i
	}
	if len(krs) == 0 {
		return len(recs), nil
	}
	results := s.cl.ProduceSync(ctx, krs...)
	first, firstErr := len(recs), error(nil)
	for _, res := range results {
		if res.Err == nil {
			continue
		}
		if i, ok := index[res.Record]; ok && i < first {
			first, firstErr = i, res.Err
		}
	}
	if firstErr == nil {
		return len(recs), nil
	}
	for _, res := range results {
		if i, ok := index[res.Record]; ok && res.Err == nil && i > first {
			if s.acked == nil {
				s.acked = make(map[ackKey]bool)
			}
			s.acked[ackKey{recs[i].Seq, recs[i].Key}] = true
		}
	}
	for i := first + 1; i < len(recs); i++ { // acknowledged in an earlier call
		if prev[ackKey{recs[i].Seq, recs[i].Key}] {
			if s.acked == nil {
				s.acked = make(map[ackKey]bool)
			}
			s.acked[ackKey{recs[i].Seq, recs[i].Key}] = true
		}
	}
	err := fmt.Errorf("kafka produce %q to %s: %w", recs[first].Key, s.cfg.Topic, firstErr)
	if permanent(firstErr) {
		err = export.Permanent(err)
	}
	return first, err
}

// permanent reports errors that no retry of the same record can fix.
func permanent(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}

// Close implements export.Sender.
func (s *Sender) Close() error {
	s.cl.Close()
	return nil
}
