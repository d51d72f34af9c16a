package cli

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestTableFitsAndWraps(t *testing.T) {
	long := strings.Repeat("word ", 40)
	tb := newTable("T", column{"A", 10}, column{"B", 0})
	tb.add("a-very-long-first-cell", long)
	tb.add("x\x1b[2Jy", "short")
	var cut bytes.Buffer
	tb.render(&cut)
	tb.wrapLast = true
	var wrapped bytes.Buffer
	tb.render(&wrapped)
	for _, out := range []string{cut.String(), wrapped.String()} {
		for _, l := range strings.Split(out, "\n") {
			if n := utf8.RuneCountInString(l); n > termWidth {
				t.Errorf("line of %d runes: %q", n, l)
			}
			if strings.ContainsRune(l, 0x1b) {
				t.Errorf("control character passed through: %q", l)
			}
		}
	}
	if got := strings.Count(cut.String(), "word"); got >= 40 {
		t.Errorf("cut table kept all %d words", got)
	}
	if got := strings.Count(wrapped.String(), "word"); got != 40 {
		t.Errorf("wrapped table kept %d of 40 words", got)
	}
	if !strings.Contains(cut.String(), "a-very-lo…") {
		t.Errorf("first column not cut with an ellipsis:\n%s", cut.String())
	}
}

func TestWrapText(t *testing.T) {
	got := wrapText("new cron task for root: */5 * * * * curl", 16)
	want := []string{"new cron task", "for root: */5 *", "* * * curl"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
