package authlog

import (
	"os"
	"strings"
	"testing"
)

// TestFixtureLog parses testdata/auth.log and checks the kind of every
// line (kind "-" for lines that are not authentication records).
func TestFixtureLog(t *testing.T) {
	data, err := os.ReadFile("testdata/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	want := []Kind{
		"-", "-", "-", KindInvalidUser, "-", KindPAMFailure, KindFailure, KindPreauthDisconnect,
		KindPAMFailure, KindFailure, KindFailure, KindMaxAttempts, KindPreauthDisconnect, KindPAMFailure,
		KindPreauthDisconnect, KindPreauthDisconnect, KindProtocolError, "-", "-", KindProtocolError, KindProtocolError,
		KindSuccess, KindSessionOpen, "-", "-", KindSessionClose, KindSessionClose,
		KindInvalidUser, KindFailure, KindFailure, KindPreauthDisconnect, KindProtocolError,
		KindSuccess, KindSessionOpen, KindSessionClose, KindPAMFailure, KindFailure, KindFailure,
		KindPAMFailure, KindFailure, KindSuccess, KindSessionOpen,
		KindPAMFailure, KindFailure, KindSuccess,
		KindFailure, KindPreauthDisconnect, KindSuccess, "-", KindFailure,
		KindFailure, KindSuccess,
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, %d expectations", len(lines), len(want))
	}
	failures := 0
	for i, l := range lines {
		ev, ok := ParseLine(l, ref)
		got := Kind("-")
		if ok {
			got = ev.Kind
			if ev.Kind.IsFailure() {
				failures += ev.Count
			}
		}
		if got != want[i] {
			t.Errorf("line %d: kind %s, want %s\n\t%s", i+1, got, want[i], l)
		}
	}
	// 2 invalid users; 7 sshd "Failed" lines, one of them repeated twice
	// (8); 1 max attempts; sudo 3 + 1; su 1; login 1; audit 1.
	if failures != 18 {
		t.Errorf("%d failures counted, want 18", failures)
	}
}
