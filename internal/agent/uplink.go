package agent

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigilsec/vigil/internal/agentlink"
	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/inventory"
	"github.com/vigilsec/vigil/internal/respond"
	"github.com/vigilsec/vigil/internal/task/runner"
	"github.com/vigilsec/vigil/internal/vuln/assess"
	"github.com/vigilsec/vigil/internal/vuln/osv"
)

// LinkAddress turns the server address a user gives — host:port, or a
// URL such as https://vigil.example:8443 — into host:port ("" stays "").
func LinkAddress(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", fmt.Errorf("server address %q: %w", s, err)
		}
		if u.Scheme != "https" && u.Scheme != "grpcs" {
			return "", fmt.Errorf("server address %q: the link is TLS only; want https://HOST:PORT or HOST:PORT", s)
		}
		if u.Port() == "" {
			return net.JoinHostPort(u.Hostname(), "8443"), nil
		}
		return u.Host, nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return "", fmt.Errorf("server address %q: want HOST:PORT: %w", s, err)
	}
	return s, nil
}

// Enrolled reports whether the agent in dataDir holds a certificate from
// its server.
func Enrolled(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, LinkDir, agentlink.CertFile))
	return err == nil
}

// EnrolledHostID is the host ID the agent in dataDir was given at
// enrolment ("" before).
func EnrolledHostID(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, LinkDir, agentlink.StateFile))
	if err != nil {
		return ""
	}
	var st struct {
		HostID string `json:"host_id"`
	}
	if json.Unmarshal(b, &st) != nil {
		return ""
	}
	return st.HostID
}

// LinkDir is where the agent keeps its key, certificates and spool, under
// the data directory.
const LinkDir = "link"

// openUplink makes the agent's link to its server and the executor of the
// server's tasks. The link is started by Run (Deps.Link).
func openUplink(cfg Config, dataDir string, r *respond.Responder, log *slog.Logger) (*uplink, error) {
	u := &uplink{log: log}
	ex, err := runner.NewLazy(func() (ed25519.PublicKey, string) {
		return u.client.TaskPublicKey(), u.client.HostID()
	}, dataDir, runner.Deps{
		Audit: r.Audit, Quarantine: r.Quarantine, Blocker: r.Inbound, NeverBlock: r.NeverBlock,
		InventorySink: func(ctx context.Context, snap *inventory.Snapshot) error {
			u.SendInventory(snap)
			return nil
		},
		OpenVulnDB: func() (assess.DB, io.Closer, error) {
			db, err := osv.Open(dataDir)
			if err != nil && cfg.VulnDBDir != "" {
				db, err = osv.Open(cfg.VulnDBDir)
			}
			if err != nil {
				return nil, nil, err
			}
			return db, db, nil
		},
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	c, err := agentlink.New(agentlink.Options{
		DataDir: filepath.Join(dataDir, LinkDir), Server: cfg.Server.Address, EnrolToken: cfg.Server.EnrolToken,
		SpoolBytes: cfg.Server.SpoolBytes, Runner: ex, Hostname: cfg.Host,
		Heartbeat: u.heartbeat, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	u.client = c
	return u, nil
}

// uplink is the agent's Uplink over agentlink.
type uplink struct {
	client *agentlink.Client
	log    *slog.Logger
	status func() *Status // set by Run
}

func (u *uplink) SendAlert(al *alert.Alert) {
	if err := u.client.SendAlert(al); err != nil {
		u.log.Warn("alert not spooled for the server", "rule", al.Rule.ID, "error", err)
	}
}

func (u *uplink) Allowed(al *alert.Alert) (string, bool) {
	var exe string
	if al.Process != nil {
		exe = al.Process.Exe
	}
	e, ok := u.client.Policy().Allowed(al.Rule.ID, exe)
	return e.ID, ok
}

func (u *uplink) SendInventory(snap *inventory.Snapshot) {
	b, err := json.Marshal(snap)
	if err == nil {
		err = u.client.SendInventory(b)
	}
	if err != nil {
		u.log.Warn("inventory not spooled for the server", "error", err)
	}
}

// heartbeat reports the agent's sensor mode, drops and resource use.
func (u *uplink) heartbeat() agentlink.HeartbeatInfo {
	if u.status == nil {
		return agentlink.HeartbeatInfo{}
	}
	st := u.status()
	hb := agentlink.HeartbeatInfo{AgentVersion: st.Version, SensorMode: st.Mode, Drops: map[string]uint64{},
		RSSBytes: st.RSSBytes, CPU: time.Duration(st.CPUSeconds * float64(time.Second))}
	for _, s := range st.Sensors {
		if n := s.Stats.KernelDropped + s.Stats.SinkDropped + s.QueueDrops; n > 0 {
			hb.Drops[s.Name] = n
		}
	}
	return hb
}

// run keeps the link up until ctx ends.
func (u *uplink) run(ctx context.Context, status func() *Status) error {
	u.status = status
	defer u.client.Close()
	return u.client.Run(ctx)
}
