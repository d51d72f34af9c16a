package textio

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// line is what a Reader reports for one line.
type line struct {
	Num  int
	Text string
	Long bool
}

// readAll reads every line of r.
func readAll(lr *Reader) ([]line, error) {
	var got []line
	for lr.Next() {
		got = append(got, line{lr.Num(), lr.Text(), lr.Long()})
	}
	return got, lr.Err()
}

func TestReader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		max      int
		keepCR   bool
		failLong bool
		want     []line
		wantErr  error
		wantNum  int // Num after the end
	}{
		{name: "empty", in: "", max: 10},
		{
			name: "lf_and_crlf",
			in:   "root:x:0:0\r\n\nlast",
			max:  100,
			want: []line{{1, "root:x:0:0", false}, {2, "", false}, {3, "last", false}},
		},
		{
			name:   "keep_cr",
			in:     "a\r\nb\r",
			max:    100,
			keepCR: true,
			want:   []line{{1, "a\r", false}, {2, "b\r", false}},
		},
		{
			name: "cr_at_end_without_lf",
			in:   "a\r",
			max:  100,
			want: []line{{1, "a", false}},
		},
		{
			name: "only_one_cr_dropped",
			in:   "a\r\r\n",
			max:  100,
			want: []line{{1, "a\r", false}},
		},
		{
			// The bound counts the terminator: 4 bytes + "\n" is 5.
			name: "bound_counts_terminator",
			in:   "abcd\nabc\nabcde",
			max:  4,
			want: []line{{1, "abcd", true}, {2, "abc", false}, {3, "abcd", true}},
		},
		{
			name: "unterminated_last_line_at_bound",
			in:   "abcd",
			max:  4,
			want: []line{{1, "abcd", false}},
		},
		{
			// A cut line ending in '\r' loses it, as a whole line does.
			name: "cut_before_crlf",
			in:   "abcd\r\nnext\n",
			max:  5,
			want: []line{{1, "abcd", true}, {2, "next", false}},
		},
		{
			// Longer than bufio's buffer: the line arrives in fragments.
			name: "long_line_over_buffer",
			in:   "x\n" + strings.Repeat("y", 10000) + "\nz\n",
			max:  5000,
			want: []line{{1, "x", false}, {2, strings.Repeat("y", 5000), true}, {3, "z", false}},
		},
		{
			name: "fits_over_buffer",
			in:   strings.Repeat("y", 9000) + "\n",
			max:  9001,
			want: []line{{1, strings.Repeat("y", 9000), false}},
		},
		{
			name:     "fail_long",
			in:       "ok\n" + strings.Repeat("y", 10000) + "\nnever\n",
			max:      100,
			failLong: true,
			want:     []line{{1, "ok", false}},
			wantErr:  ErrTooLong,
			wantNum:  2,
		},
		{
			name:     "fail_long_last_line",
			in:       "ok\r\nabcdef",
			max:      5,
			failLong: true,
			want:     []line{{1, "ok", false}},
			wantErr:  ErrTooLong,
			wantNum:  2,
		},
		{
			name:     "fail_long_allows_bound",
			in:       "abc\r\n",
			max:      5,
			failLong: true,
			want:     []line{{1, "abc", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := NewReader(strings.NewReader(tt.in), tt.max)
			lr.KeepCR, lr.FailLong = tt.keepCR, tt.failLong
			got, err := readAll(lr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Err() = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil && lr.Num() != tt.wantNum {
				t.Errorf("Num() after error = %d, want %d", lr.Num(), tt.wantNum)
			}
			if lr.Next() {
				t.Errorf("Next() = true after the end")
			}
		})
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		want    []line
		wantNum int
	}{
		{
			// The line cut short by the error is dropped.
			name:    "mid_line",
			r:       io.MultiReader(strings.NewReader("a\nb\npart"), iotest.ErrReader(boom)),
			want:    []line{{1, "a", false}, {2, "b", false}},
			wantNum: 3,
		},
		{
			name:    "at_line_start",
			r:       io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(boom)),
			want:    []line{{1, "a", false}},
			wantNum: 2,
		},
		{
			// Data and the error in the same Read.
			name:    "with_data",
			r:       iotest.DataErrReader(io.MultiReader(strings.NewReader("a\nbc"), iotest.ErrReader(boom))),
			want:    []line{{1, "a", false}},
			wantNum: 2,
		},
		{
			name:    "in_dropped_rest_of_long_line",
			r:       io.MultiReader(strings.NewReader("a\n"+strings.Repeat("x", 9000)), iotest.ErrReader(boom)),
			want:    []line{{1, "a", false}},
			wantNum: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := NewReader(tt.r, 100)
			got, err := readAll(lr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if !errors.Is(err, boom) {
				t.Errorf("Err() = %v, want %v", err, boom)
			}
			if lr.Num() != tt.wantNum {
				t.Errorf("Num() = %d, want %d", lr.Num(), tt.wantNum)
			}
		})
	}
}

func TestReaderOneByteReads(t *testing.T) {
	in := "one\r\ntwo\n" + strings.Repeat("z", 50) + "\nfour"
	lr := NewReader(iotest.OneByteReader(strings.NewReader(in)), 20)
	got, err := readAll(lr)
	if err != nil {
		t.Fatal(err)
	}
	want := []line{{1, "one", false}, {2, "two", false}, {3, strings.Repeat("z", 20), true}, {4, "four", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestLineError(t *testing.T) {
	lr := NewReader(strings.NewReader("a\nb\n"), 10)
	lr.Next()
	lr.Next()
	err := lr.Errorf("bad %q: %w", "b", io.ErrUnexpectedEOF)
	if got, want := err.Error(), `line 2: bad "b": unexpected EOF`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("LineError does not unwrap to its cause")
	}
}

// FuzzReader checks every input byte is accounted for: with KeepCR the
// lines joined by '\n' give back the input when no line is too long, and
// in every mode each line is its raw line (terminator dropped) cut at the
// bound.
func FuzzReader(f *testing.F) {
	f.Add("root:x:0:0:root:/root:/bin/bash\r\ndaemon:x:1:1::/:/usr/sbin/nologin\n", uint16(64))
	f.Add("\n\n\r\nlast", uint16(3))
	f.Add(strings.Repeat("a", 5000)+"\r\n"+strings.Repeat("b", 100), uint16(4097))
	f.Fuzz(func(t *testing.T, in string, limit uint16) {
		n := int(limit)%6000 + 1
		// The model: raw lines with their terminators.
		var raws []string
		for rest := in; rest != ""; {
			i := strings.IndexByte(rest, '\n')
			if i < 0 {
				raws = append(raws, rest)
				break
			}
			raws = append(raws, rest[:i+1])
			rest = rest[i+1:]
		}
		for _, keepCR := range []bool{true, false} {
			lr := NewReader(strings.NewReader(in), n)
			lr.KeepCR = keepCR
			got, err := readAll(lr)
			if err != nil {
				t.Fatalf("KeepCR=%v: %v", keepCR, err)
			}
			if len(got) != len(raws) {
				t.Fatalf("KeepCR=%v: %d lines, want %d", keepCR, len(got), len(raws))
			}
			anyLong := false
			texts := make([]string, len(got))
			for i, l := range got {
				raw := raws[i]
				long := len(raw) > n
				if long {
					raw = raw[:n]
				}
				raw = strings.TrimSuffix(raw, "\n")
				if !keepCR {
					raw = strings.TrimSuffix(raw, "\r")
				}
				if want := (line{i + 1, raw, long}); l != want {
					t.Fatalf("KeepCR=%v: line %d = %+v, want %+v", keepCR, i+1, l, want)
				}
				if len(l.Text) > n {
					t.Fatalf("line %d: %d bytes over the bound %d", i+1, len(l.Text), n)
				}
				anyLong = anyLong || long
				texts[i] = l.Text
			}
			if keepCR && !anyLong {
				joined := strings.Join(texts, "\n")
				if strings.HasSuffix(in, "\n") {
					joined += "\n"
				}
				if joined != in {
					t.Fatalf("lines joined = %q, want the input %q", joined, in)
				}
			}
		}
	})
}
