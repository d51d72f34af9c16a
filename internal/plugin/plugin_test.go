package plugin

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatusFromErr(t *testing.T) {
	var p Problems
	p.Addf("/etc/passwd:%d: too few fields", 3)
	tests := []struct {
		name string
		err  error
		want Status
	}{
		{"nil", nil, Status{State: StateSucceeded}},
		{"partial", p.Err(), Status{State: StatePartial, Error: "/etc/passwd:3: too few fields",
			Problems: []string{"/etc/passwd:3: too few fields"}}},
		{"wrapped_partial", fmt.Errorf("read: %w", p.Err()), Status{State: StatePartial,
			Error: "/etc/passwd:3: too few fields", Problems: []string{"/etc/passwd:3: too few fields"}}},
		{"skip", Skip("no Docker engine at %s", "/run/docker.sock"),
			Status{State: StateSkipped, Error: "no Docker engine at /run/docker.sock"}},
		{"failed", errors.New("open /var/lib/dpkg/status: permission denied"),
			Status{State: StateFailed, Error: "open /var/lib/dpkg/status: permission denied"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, StatusFromErr(tt.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestProblemsAreBounded(t *testing.T) {
	var p Problems
	if p.Err() != nil {
		t.Fatal("empty Problems gave an error")
	}
	p.Add(nil)
	for i := range 1000 {
		p.Addf("line %d: bad", i)
	}
	st := StatusFromErr(p.Err())
	if n := len(st.Problems); n != maxProblems+1 || st.Problems[maxProblems] != "further problems omitted" {
		t.Errorf("kept %d problems, last %q; want %d and a note", n, st.Problems[n-1], maxProblems+1)
	}
	if st.Error != "line 0: bad (and 100 more problems)" {
		t.Errorf("Error = %q", st.Error)
	}
}

func TestStateText(t *testing.T) {
	for s := StateUnspecified; s <= StateSkipped; s++ {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("round trip of %v: %v, %v", s, back, err)
		}
	}
	var s State
	if err := s.UnmarshalText([]byte("bogus")); err == nil {
		t.Error("accepted an unknown state")
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"host", "os/dpkg", "lang/go_binary", "scheduled_tasks"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("ValidateName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Host", "os//dpkg", "/dpkg", "os/", "1abc", "a-b", "a b"} {
		if err := ValidateName(bad); err == nil {
			t.Errorf("ValidateName(%q) accepted", bad)
		}
	}
}
