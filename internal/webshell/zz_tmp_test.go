package webshell

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

func TestTmpSlow(t *testing.T) {
	type e struct {
		p string
		n int
		d time.Duration
	}
	var l []e
	var tot time.Duration
	var totB int
	filepath.WalkDir("/work/shared/data/webshell", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		b, _ := os.ReadFile(p)
		t0 := time.Now()
		Analyze(b)
		dd := time.Since(t0)
		tot += dd
		totB += len(b)
		l = append(l, e{p, len(b), dd})
		return nil
	})
	sort.Slice(l, func(i, j int) bool { return l[i].d > l[j].d })
	fmt.Println("total", tot, totB)
	for _, x := range l[:25] {
		fmt.Printf("%v %d %.1fMB/s %s\n", x.d, x.n, float64(x.n)/x.d.Seconds()/1e6, x.p)
	}
}

func BenchmarkTmpFile(b *testing.B) {
	data, err := os.ReadFile(os.Getenv("F"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Analyze(data)
	}
}
