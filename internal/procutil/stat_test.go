package procutil

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name, in string
		want     Stat
		wantErr  string
	}{
		{
			name: "bash_on_pts",
			in:   "1234 (bash) S 1200 1234 1234 34817 1234 4194560 1 2 3 4 5 6 7 8 20 0 1 0 840391 3133440 352 18446744073709551615 1\n",
			want: Stat{Comm: "bash", State: []byte("S"), PPID: 1200, TTYNr: 34817, Flags: 4194560, StartTime: 840391},
		},
		{
			name: "comm_with_parens_and_spaces_exactly_22_fields",
			in:   "7 (a) b (c)) R 1 7 7 -1 -1 4194304 97 0 0 0 0 0 0 0 20 0 1 0 99",
			want: Stat{Comm: "a) b (c)", State: []byte("R"), PPID: 1, TTYNr: 0xffffffff, Flags: 4194304, StartTime: 99},
		},
		{name: "no_comm", in: "2001 (broken\n", wantErr: "no (comm)"},
		{name: "truncated", in: "1 (init) S 0 1 1\n", wantErr: "6 fields, want at least 22"},
		{name: "bad_ppid", in: "1 (init) S x 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 2 0\n", wantErr: `field 4 "x": not a number`},
		{name: "negative_start", in: "1 (init) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -2 0\n", wantErr: `field 22 "-2": not a number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParseStat(%q) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseStat (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("8606 (cat) R 8597 8597 5445 0 -1 4194304 101 0 0 0 0 0 0 0 20 0 1 0 42119 3133440 409\n"))
	f.Add([]byte("77 (a) b (c)) S 1 77 77 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0\n"))
	f.Add([]byte("2001 (broken\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStat(b)
		if err != nil {
			return
		}
		if !bytes.Contains(b, []byte("("+s.Comm+")")) {
			t.Fatalf("comm %q is not in the input", s.Comm)
		}
		if s.PPID < 0 {
			t.Fatalf("negative ppid %d", s.PPID)
		}
	})
}

func FuzzParseBtime(f *testing.F) {
	f.Add([]byte("cpu  1 2 3\nctxt 3099263\nbtime 1700000000\nprocesses 17420\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		bt, err := ParseBtime(b)
		if err == nil && (bt < 0 || !bytes.Contains(b, []byte(fmt.Sprint(bt)))) {
			t.Fatalf("ParseBtime() = %d", bt)
		}
	})
}
