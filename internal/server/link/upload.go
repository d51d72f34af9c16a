package link

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/server/store"
)

// upload serves an Upload stream: each batch is committed, then
// acknowledged, in order.
func (s *Server) upload(stream vigilv1.Link_UploadServer) error {
	ctx := stream.Context()
	h := hostFrom(ctx)
	for {
		b, err := stream.Recv()
		if err != nil {
			return endOfStream(err)
		}
		if s.isRevoked(h.ID) {
			return status.Errorf(codes.PermissionDenied, "host %s is revoked", h.ID)
		}
		if len(b.GetRecords()) > maxBatchRecords {
			return status.Errorf(codes.InvalidArgument, "batch of %d records; at most %d", len(b.GetRecords()), maxBatchRecords)
		}
		rejected, err := s.ingest(ctx, h.ID, b.GetRecords())
		if err != nil {
			s.log.Error("ingest", "host", h.ID, "err", err)
			return status.Errorf(codes.Unavailable, "ingest: %v", err)
		}
		for _, r := range rejected {
			s.log.Warn("record rejected", "host", h.ID, "index", r.GetIndex(), "reason", r.GetReason())
		}
		if err := stream.Send(&vigilv1.UploadAck{Seq: b.GetSeq(), Rejected: rejected}); err != nil {
			return err
		}
	}
}

// ingest stores one batch. Records the store can never take are returned
// as rejected; an error means nothing is known to be stored and the batch
// must be sent again.
func (s *Server) ingest(ctx context.Context, hostID string, recs []*vigilv1.Record) ([]*vigilv1.Rejected, error) {
	var rejected []*vigilv1.Rejected
	reject := func(i int, format string, args ...any) {
		rejected = append(rejected, &vigilv1.Rejected{Index: uint32(i), Reason: fmt.Sprintf(format, args...)})
	}
	var (
		alerts   []alert.Alert
		alertIdx []int
		events   []store.Event
		eventIdx []int
		invIdx   []int
	)
	for i, r := range recs {
		switch r.GetKind() {
		case vigilv1.RecordKind_RECORD_KIND_ALERT:
			var a alert.Alert
			if err := json.Unmarshal(r.GetData(), &a); err != nil {
				reject(i, "alert JSON: %v", err)
				continue
			}
			if a.ID == "" {
				reject(i, "alert without an ID")
				continue
			}
			a.Host = hostID
			alerts, alertIdx = append(alerts, a), append(alertIdx, i)
		case vigilv1.RecordKind_RECORD_KIND_EVENT:
			if r.GetId() == "" {
				reject(i, "event without an ID")
				continue
			}
			if !json.Valid(r.GetData()) {
				reject(i, "event data is not JSON")
				continue
			}
			events = append(events, store.Event{ID: r.GetId(), Time: time.Unix(0, r.GetTimeUnixNano()).UTC(),
				Kind: r.GetEventKind(), Data: json.RawMessage(r.GetData())})
			eventIdx = append(eventIdx, i)
		case vigilv1.RecordKind_RECORD_KIND_INVENTORY:
			invIdx = append(invIdx, i)
		default:
			reject(i, "unknown record kind %d", int32(r.GetKind()))
		}
	}
	if len(alerts)+len(events) > 0 {
		added, err := s.commit(ctx, store.Batch{HostID: hostID, Alerts: alerts, Events: events})
		switch {
		case err == nil:
			s.nAlerts.Add(uint64(added.Alerts))
			s.nEvents.Add(uint64(added.Events))
		case errors.Is(err, store.ErrInvalid):
			// Find the bad records: store the rest one by one.
			alerts, err = s.ingestEach(ctx, hostID, alerts, alertIdx, events, eventIdx, reject)
			if err != nil {
				return nil, err
			}
		default:
			return nil, err
		}
		if s.o.OnAlerts != nil && len(alerts) > 0 {
			s.o.OnAlerts(hostID, alerts)
		}
	}
	for _, i := range invIdx {
		r := recs[i]
		at := time.Unix(0, r.GetTimeUnixNano()).UTC()
		if r.GetTimeUnixNano() == 0 {
			at = s.o.Now().UTC()
		}
		_, stored, err := s.o.Store.PutInventory(ctx, hostID, at, json.RawMessage(r.GetData()))
		switch {
		case errors.Is(err, store.ErrInvalid):
			reject(i, "%v", err)
		case err != nil:
			return nil, err
		case stored:
			s.nInv.Add(1)
			if s.o.OnInventory != nil {
				s.o.OnInventory(hostID)
			}
		}
	}
	slices.SortFunc(rejected, func(a, b *vigilv1.Rejected) int { return cmp.Compare(a.GetIndex(), b.GetIndex()) })
	return rejected, nil
}

// ingestEach stores a batch that holds a record the store refuses, one
// record at a time, rejecting the bad ones. It returns the alerts stored.
func (s *Server) ingestEach(ctx context.Context, hostID string, alerts []alert.Alert, alertIdx []int,
	events []store.Event, eventIdx []int, reject func(i int, format string, args ...any)) ([]alert.Alert, error) {
	var stored []alert.Alert
	for j := range alerts {
		n, err := s.o.Store.IngestAlerts(ctx, hostID, alerts[j:j+1])
		switch {
		case errors.Is(err, store.ErrInvalid):
			reject(alertIdx[j], "%v", err)
		case err != nil:
			return nil, err
		default:
			s.nAlerts.Add(uint64(n))
			stored = append(stored, alerts[j])
		}
	}
	for j := range events {
		n, err := s.o.Store.IngestEvents(ctx, hostID, events[j:j+1])
		switch {
		case errors.Is(err, store.ErrInvalid):
			reject(eventIdx[j], "%v", err)
		case err != nil:
			return nil, err
		default:
			s.nEvents.Add(uint64(n))
		}
	}
	return stored, nil
}
