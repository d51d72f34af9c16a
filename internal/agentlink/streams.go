package agentlink

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
)

// heartbeat sends one heartbeat per interval and waits for each ack.
func (c *Client) heartbeat(ctx context.Context, cli vigilv1.LinkClient, interval time.Duration) error {
	stream, err := cli.Heartbeat(ctx)
	if err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := stream.Send(c.heartbeatRequest()); err != nil {
			return err
		}
		ack, err := stream.Recv()
		if err != nil {
			return err
		}
		if ack.GetPolicy() != nil {
			c.setPolicy(ack.GetPolicy())
		}
		c.mu.Lock()
		c.conn = true
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *Client) heartbeatRequest() *vigilv1.HeartbeatRequest {
	var info HeartbeatInfo
	if c.o.Heartbeat != nil {
		info = c.o.Heartbeat()
	}
	if info.AgentVersion == "" {
		info.AgentVersion = agentVersion()
	}
	if info.RSSBytes == 0 {
		info.RSSBytes = selfRSS()
	}
	if info.CPU == 0 {
		info.CPU = selfCPU()
	}
	st := c.spool.Stats()
	var policy string
	if p := c.Policy(); p != nil {
		policy = p.Version
	}
	return &vigilv1.HeartbeatRequest{
		PolicyVersion: policy,
		AgentVersion:  info.AgentVersion, SensorMode: info.SensorMode, Drops: info.Drops,
		SpoolDrops: st.Dropped, QueueDepth: uint64(max(st.Pending, 0)), RssBytes: info.RSSBytes,
		CpuMillis: uint64(info.CPU / time.Millisecond), TimeUnixNano: time.Now().UnixNano(),
		Hostname: c.o.Hostname, Os: c.o.OS,
	}
}

// selfRSS reads the resident set size from /proc/self/statm.
func selfRSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// selfCPU is the process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// upload sends the spool in batches, at most Window unacknowledged, and
// acknowledges spool records as the server acknowledges batches.
func (c *Client) upload(ctx context.Context, cli vigilv1.LinkClient) error {
	c.spool.Rewind()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := cli.Upload(ctx)
	if err != nil {
		return err
	}
	type sent struct {
		seq uint64
		n   int
	}
	inflight := make(chan sent, c.o.Window)
	errc := make(chan error, 1)
	recvDone := make(chan struct{})
	// The receiver must stop before a later session rewinds the spool.
	defer func() { cancel(); <-recvDone }()
	go func() {
		defer close(recvDone)
		for {
			ack, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			var b sent
			select {
			case b = <-inflight:
			default:
				errc <- fmt.Errorf("ack %d for no batch sent", ack.GetSeq())
				return
			}
			if ack.GetSeq() != b.seq {
				errc <- fmt.Errorf("ack %d, want %d", ack.GetSeq(), b.seq)
				return
			}
			if err := c.spool.Ack(b.n); err != nil {
				errc <- err
				return
			}
			c.mu.Lock()
			c.acked += uint64(b.n)
			c.mu.Unlock()
			for _, r := range ack.GetRejected() {
				c.log.Error("server rejected a record", "batch", b.seq, "index", r.GetIndex(), "reason", r.GetReason())
			}
		}
	}()
	var seq uint64
	for {
		notify := c.spool.Notify()
		data, err := c.spool.Read(c.o.BatchRecords, c.o.BatchBytes)
		if err != nil {
			return err
		}
		if len(data) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case err := <-errc:
				return err
			case <-notify:
			case <-time.After(time.Second):
			}
			continue
		}
		batch := &vigilv1.UploadBatch{Records: make([]*vigilv1.Record, len(data))}
		for i, d := range data {
			r := new(vigilv1.Record)
			if err := proto.Unmarshal(d, r); err != nil {
				// Sent as an unknown kind: the server rejects it in the
				// ack and it leaves the spool.
				r = &vigilv1.Record{Id: "undecodable spool record"}
			}
			batch.Records[i] = r
		}
		seq++
		batch.Seq = seq
		select {
		case inflight <- sent{seq, len(data)}:
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		}
		if err := stream.Send(batch); err != nil {
			return err
		}
	}
}

// tasks runs the tasks the server sends and sends back their results.
func (c *Client) tasks(ctx context.Context, cli vigilv1.LinkClient) error {
	stream, err := cli.Tasks(ctx)
	if err != nil {
		return err
	}
	sendErr := make(chan error, 1)
	go func() {
		for {
			c.mu.Lock()
			rs := c.results
			c.results = nil
			c.mu.Unlock()
			for i, r := range rs {
				if err := stream.Send(r); err != nil {
					c.mu.Lock()
					c.results = append(rs[i:], c.results...)
					c.mu.Unlock()
					sendErr <- err
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-c.resultCh:
			}
		}
	}()
	for {
		d, err := stream.Recv()
		if err != nil {
			select {
			case e := <-sendErr:
				return e
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go c.runTask(d)
	}
}

// runTask runs one task under the Run context, so a reconnect does not
// cancel it, and queues its result.
func (c *Client) runTask(d *vigilv1.TaskDispatch) {
	c.taskSem <- struct{}{}
	defer func() { <-c.taskSem }()
	res := &vigilv1.TaskResult{RunId: d.GetRunId(), TaskId: d.GetTaskId()}
	if c.o.Runner == nil {
		res.Output, _ = json.Marshal(map[string]string{"error": "this agent runs no tasks"})
	} else {
		out, err := c.o.Runner.RunTask(c.runCtx, d.GetPayload(), d.GetSignature())
		switch {
		case err != nil:
			m := map[string]any{"error": err.Error()}
			if len(out) > 0 && json.Valid(out) {
				m["output"] = out
			}
			res.Output, _ = json.Marshal(m)
		case len(out) == 0:
			res.Ok, res.Output = true, []byte("{}")
		case !json.Valid(out):
			res.Output, _ = json.Marshal(map[string]string{"error": "task output is not JSON"})
		default:
			res.Ok, res.Output = true, out
		}
		if err != nil {
			c.log.Warn("task failed", "run", d.GetRunId(), "err", err)
		}
	}
	c.mu.Lock()
	c.results = append(c.results, res)
	c.mu.Unlock()
	select {
	case c.resultCh <- struct{}{}:
	default:
	}
}
