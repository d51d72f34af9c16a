package webshell

import (
	"fmt"
	"os"
	"testing"
)

func TestTmpCount(t *testing.T) {
	data, _ := os.ReadFile(os.Getenv("F"))
	src := string(data)
	if d, ok := decodeScrenc(src); ok {
		src = d
	}
	low0 := asciiLower(src)
	fmt.Println(detectLangs(low0))
	low := asciiLower(src)
	code, vb := extractCode(src, low, "asp")
	toks := lexScript(code, vb, nil)
	m := matchScript(toks)
	un := 0
	for i := range toks {
		if toks[i].k == tOp && (toks[i].s == "(" || toks[i].s == "[") && m[i] < 0 {
			un++
		}
	}
	for _, l := range []string{"asp", "aspx", "jsp"} {
		st := &state{budget: 1 << 40}
		analyzeScript(src, low, l, st)
		fmt.Println(l, "toks", len(toks), "unmatched", un, "spent", (1<<40)-st.budget)
	}
}
