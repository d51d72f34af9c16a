package audit

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2025, 3, 1, 12, 0, 0, 5, time.FixedZone("x", 3600))
	want := []Record{
		{Time: when.UTC(), Action: "kill", Target: "pid 42", AlertID: "a1", RuleID: "r1", Result: ResultOK},
		{Time: when.UTC(), Action: "quarantine", Target: "/tmp/x", Result: ResultFailed, Error: "no such file"},
	}
	for _, r := range want {
		r.Time = when
		if err := l.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	// Concurrent writers never interleave lines.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := l.Write(Record{Action: "kill", Target: fmt.Sprint(i), Result: ResultOK}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Write(Record{}); err == nil {
		t.Error("Write after Close succeeded")
	}
	got, err := ReadFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 22 {
		t.Fatalf("got %d records, want 22", len(got))
	}
	if diff := cmp.Diff(want, got[:2]); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	for _, r := range got[2:] {
		if r.Time.IsZero() || r.Time.Location() != time.UTC {
			t.Errorf("record time %v: want set, UTC", r.Time)
		}
	}
}

func TestReadBadLine(t *testing.T) {
	_, err := Read(strings.NewReader("{\"action\":\"kill\"}\n{oops\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("err = %v, want one naming line 2", err)
	}
}
