package agentlink

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	vigilv1 "github.com/vigilsec/vigil/api/vigil/v1"
)

// PolicyFile holds the latest policy from the server, so that it applies
// from the agent's start, before the link is up.
const PolicyFile = "policy.json"

// Policy is what the console decided for this host that the agent applies
// itself.
type Policy struct {
	Version string       `json:"version"`
	Allow   []AllowEntry `json:"allow"`
}

// AllowEntry is an allow-list entry for this host: alerts of the rule
// (and executable, when set) keep being raised and sent, but their
// response is not carried out.
type AllowEntry struct {
	ID     string `json:"id"`
	RuleID string `json:"rule_id"`
	Exe    string `json:"exe,omitempty"`
}

// Allowed returns the entry that allows an alert of rule ruleID from
// executable exe, if any.
func (p *Policy) Allowed(ruleID, exe string) (AllowEntry, bool) {
	if p == nil {
		return AllowEntry{}, false
	}
	for _, e := range p.Allow {
		if e.RuleID == ruleID && (e.Exe == "" || e.Exe == exe) {
			return e, true
		}
	}
	return AllowEntry{}, false
}

func policyFrom(p *vigilv1.Policy) *Policy {
	out := &Policy{Version: p.GetVersion()}
	for _, e := range p.GetAllow() {
		if e.GetRuleId() == "" {
			continue // would match nothing useful; never allow everything
		}
		out.Allow = append(out.Allow, AllowEntry{ID: e.GetId(), RuleID: e.GetRuleId(), Exe: e.GetExe()})
	}
	return out
}

// loadPolicy reads the saved policy; none saved is no policy.
func loadPolicy(dir string) (*Policy, error) {
	b, err := os.ReadFile(filepath.Join(dir, PolicyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("policy %s: %w", filepath.Join(dir, PolicyFile), err)
	}
	return &p, nil
}

// savePolicy writes the policy atomically (0600).
func savePolicy(dir string, p *Policy) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, PolicyFile+".*")
	if err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("policy: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("policy: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("policy: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, PolicyFile))
}

// Policy returns the latest policy from the server (nil when none came).
func (c *Client) Policy() *Policy {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.policy
}

// setPolicy applies and saves a policy the server sent.
func (c *Client) setPolicy(p *vigilv1.Policy) {
	np := policyFrom(p)
	c.mu.Lock()
	c.policy = np
	c.mu.Unlock()
	if err := savePolicy(c.o.DataDir, np); err != nil {
		c.log.Warn("policy not saved; it applies until the agent stops", "err", err)
	}
	c.log.Info("policy from the server", "version", np.Version, "allow_entries", len(np.Allow))
}
