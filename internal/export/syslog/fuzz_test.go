package syslog

import (
	"bufio"
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func pidForTest() int { return os.Getpid() }

// FuzzFrameRoundTrip writes a message built from arbitrary fields as a
// frame and parses it back: the parser must accept every frame the writer
// makes and read back the sanitized fields and the exact MSG.
func FuzzFrameRoundTrip(f *testing.F) {
	f.Add("web-1", "vigil", "1234", "2004", "vigil@32473", "key", `alert-"1"]\`, []byte(`{"class_uid":2004}`), int64(1795815005123456789), 4, 3)
	f.Add("", "", "", "", "", "", "", []byte{}, int64(0), 0, 0)
	f.Add("h o\xffst", "a\x00pp", "-", "ééé", "x=y]\"", "p q", "\xff\xfe", []byte("\n\r\x00 x"), int64(-1), 30, -2)
	f.Fuzz(func(t *testing.T, host, app, proc, msgID, sdID, pname, pval string, msg []byte, ns int64, fac, sev int) {
		m := Message{Facility: fac, Severity: sev, Hostname: host, AppName: app, ProcID: proc, MsgID: msgID, Msg: msg}
		if ns != 0 {
			m.Time = time.Unix(0, ns)
		}
		if sdID != "" {
			m.SD = []Element{{ID: sdID, Params: []Param{{pname, pval}, {"n", pval + pname}}}}
		}
		frame := AppendFrame(nil, m)
		r := bufio.NewReader(bytes.NewReader(frame))
		b, err := readFrame(r)
		if err != nil {
			t.Fatalf("readFrame(%q): %v", frame, err)
		}
		if r.Buffered() != 0 {
			t.Fatalf("frame length wrong: %d bytes left", r.Buffered())
		}
		got, err := parseMessage(b)
		if err != nil {
			t.Fatalf("parseMessage(%q): %v", b, err)
		}
		h, a, p, id := SanitizeHeader(m)
		want := parsed{
			Pri:  min(max(fac, 0), 23)*8 + min(max(sev, 0), 7),
			Host: h, App: a, ProcID: p, MsgID: id, Msg: string(msg), Time: "-",
		}
		if !m.Time.IsZero() {
			want.Time = m.Time.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		}
		if len(m.SD) > 0 {
			want.SD = SanitizeSD(m.SD)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("round trip of %q (-want +got):\n%s", frame, d)
		}
	})
}

// FuzzParse feeds arbitrary bytes to the test collector's parser, which
// reads data from the network in the tests: it must not panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`12 <34>1 - - - - - -`))
	f.Add(AppendFrame(nil, Message{Hostname: "h", SD: []Element{{ID: "a", Params: []Param{{"b", "c]"}}}}, Msg: []byte("x")}))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for {
			b, err := readFrame(r)
			if err != nil {
				return
			}
			parseMessage(b)
		}
	})
}
