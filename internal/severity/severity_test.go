package severity

import "testing"

func TestTextRoundTrip(t *testing.T) {
	for l := Unspecified; l <= Critical; l++ {
		b, err := l.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Level
		if err := back.UnmarshalText(b); err != nil || back != l {
			t.Errorf("round trip of %v = %v, %v", l, back, err)
		}
	}
	if _, err := Parse("severe"); err == nil {
		t.Error("Parse accepted an unknown name")
	}
	if Critical <= High || High <= Medium || Medium <= Low || Low <= Info || Info <= Unspecified {
		t.Error("levels are not ordered")
	}
}
