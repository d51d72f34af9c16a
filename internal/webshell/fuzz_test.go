package webshell

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// fixture is one file of testdata/shells or testdata/benign.
type fixture struct {
	name string
	data []byte
}

// allFixtures reads every shell and benign fixture.
func allFixtures(tb testing.TB) []fixture {
	tb.Helper()
	var out []fixture
	for _, dir := range []string{"testdata/shells", "testdata/benign"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				tb.Fatal(err)
			}
			out = append(out, fixture{e.Name(), b})
		}
	}
	return out
}

func addFixtureSeeds(f *testing.F) {
	for _, fx := range allFixtures(f) {
		f.Add(fx.data)
	}
}

func FuzzAnalyze(f *testing.F) {
	addFixtureSeeds(f)
	f.Add([]byte("<?php $a = <<<'X'\n$_GET\nX;\n${'_'.'GET'}['a']($a);"))
	f.Add([]byte("<% execute chr(101) & chr(118) %>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := AnalyzeWith(data, Options{MaxBytes: 1 << 16})
		checkEvidence(t, r)
		switch r.Lang {
		case "", "php", "jsp", "asp", "aspx":
		default:
			t.Errorf("unknown Lang %q", r.Lang)
		}
	})
}

func FuzzDecoders(f *testing.F) {
	f.Add([]byte("c3lzdGVt"))
	f.Add([]byte("\x78\x9c\x2b\xae\x2c\x2e\x49\xcd\x05\x00"))
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00"))
	f.Add([]byte(`\u0041\uuu0042\u00`))
	f.Add([]byte("%41+%zz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := string(data)
		for name, fn := range map[string]func(string) (string, bool){
			"base64": decodeBase64, "inflate": decodeInflate, "zlib": decodeZlib,
			"gzip": decodeGzip, "hex": decodeHex,
		} {
			if out, _ := fn(s); len(out) > maxDecoded {
				t.Errorf("%s: %d bytes exceed the cap", name, len(out))
			}
		}
		decodeURL(s, true)
		decodeURL(s, false)
		if got := reverse(reverse(s)); got != s {
			t.Errorf("reverse is not an involution")
		}
		if got := rot13(rot13(s)); got != s {
			t.Errorf("rot13 is not an involution")
		}
		if out := decodeJavaUnicode(s); len(out) > 3*len(s) {
			t.Errorf("decodeJavaUnicode grew %d -> %d", len(s), len(out))
		}
		entropy(s)
		looksLikeCode(s)
	})
}

func FuzzDecodeScrenc(f *testing.F) {
	b, err := os.ReadFile("testdata/shells/asp_script_encoded.asp")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("#@~^#@~^^#~@"))
	f.Add([]byte("#@~^AAAAAA==@&@#@*@!@$@x^#~@"))
	f.Add([]byte("#@~^AAAAAA==\x81@\xb0[x\xfdi@&\xd6\xd0AAAAAA==^#~@"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _ := decodeScrenc(string(data))
		if len(out) > len(data)+maxDecoded {
			t.Errorf("output %d bytes for %d input", len(out), len(data))
		}
	})
}

func FuzzDiscoverRoots(f *testing.F) {
	f.Add([]byte("server { root /var/www/a; location / { alias \"/srv/b/\"; } }"))
	f.Add([]byte("DocumentRoot \"/var/www/html\"\nAlias /x \"/srv/x\"\n"))
	f.Add([]byte(`<Host appBase="webapps"/><!-- <Host appBase="/x"/> -->`))
	f.Fuzz(func(t *testing.T, data []byte) {
		nginxRoots(data)
		apacheRoots(data)
		appBases(data)
		dir := &fstest.MapFile{Mode: 0o755 | 1<<31}
		fsys := fstest.MapFS{
			"etc/nginx/nginx.conf":            {Data: data},
			"etc/apache2/apache2.conf":        {Data: data},
			"var/lib/tomcat9/conf/server.xml": {Data: data},
			"var/www/html":                    dir,
			"srv/b":                           dir,
		}
		for _, p := range DiscoverRoots(fsys) {
			if p == "" || p[0] != '/' {
				t.Errorf("root %q is not absolute", p)
			}
		}
	})
}
