package webshell

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAnalyzeShells(t *testing.T) {
	tests := []struct {
		file, lang, rule string
	}{
		{"php_eval_post.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_tagless_fragment.jpg", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_obfuscated_chain.txt", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_wrapper.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_dynamic_name.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_variable_function.php", "php", "VGL-WEBSHELL-PHP-INPUT-FUNC"},
		{"php_chr_assert.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_dynamic_superglobal.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_preg_e.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_backtick.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_callback.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_rot13_strrev.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_hex_escapes.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_include_input.php", "php", "VGL-WEBSHELL-PHP-INPUT-INCLUDE"},
		{"php_heredoc.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		// Fourth PHP pass (php_pass4_test.go has the counterparts).
		{"php_computed_var_name.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_remote_code_fetch.php", "php", "VGL-WEBSHELL-PHP-REMOTE-EVAL"},
		{"php_preg_e_split_pattern.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_user_decoder_eval.php", "php", "VGL-WEBSHELL-PHP-EVAL-DECODED"},
		{"php_fromcallable.php", "php", "VGL-WEBSHELL-PHP-COMPUTED-CALL-INPUT"},
		{"php_dropper_write.php", "php", "VGL-WEBSHELL-PHP-INPUT-WRITE"},
		{"php_socket_shell.php", "php", "VGL-WEBSHELL-PHP-SOCKET-SHELL"},
		{"php_negated_names.php", "php", "VGL-WEBSHELL-PHP-COMPUTED-CALL-INPUT"},
		{"php_register_globals_files.php", "php", "VGL-WEBSHELL-PHP-INDIRECT-FILE-MANAGER"},
		{"php_array_walk_name.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_globals_table.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_write_wrapper.php", "php", "VGL-WEBSHELL-PHP-INPUT-WRITE"},
		{"php_default_guard.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_shell_stdin.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_define_db_server.php", "php", "VGL-WEBSHELL-PHP-INPUT-DB-CONNECT"},
		{"php_define_names.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_bare_brace_var.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_callable_param.php", "php", "VGL-WEBSHELL-PHP-DYNAMIC-SINK"},
		{"php_drop_payload.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_download_include.php", "php", "VGL-WEBSHELL-PHP-REMOTE-INCLUDE"},
		{"php_interpreter_global.php", "php", "VGL-WEBSHELL-PHP-INDIRECT-INPUT"},
		{"php_closure_callback.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_closure_var.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"jsp_runtime_exec.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-EXEC"},
		{"jsp_unicode.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-EXEC"},
		{"jspx_scriptlet.jspx", "jsp", "VGL-WEBSHELL-JSP-INPUT-EXEC"},
		{"asp_eval_request.asp", "asp", "VGL-WEBSHELL-ASP-INPUT-EVAL"},
		{"asp_chr_execute.asp", "asp", "VGL-WEBSHELL-ASP-INPUT-EVAL"},
		{"asp_script_encoded.asp", "asp", "VGL-WEBSHELL-ASP-INPUT-EVAL"},
		{"aspx_process_start.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-EXEC"},
		{"aspx_jscript_eval.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-EVAL"},
		// Capabilities reached by request input without eval/exec.
		{"php_db_client.php", "php", "VGL-WEBSHELL-PHP-INPUT-DB-CONNECT"},
		{"php_file_browser.php", "php", "VGL-WEBSHELL-PHP-INPUT-FILE-BROWSER"},
		{"php_port_connect.php", "php", "VGL-WEBSHELL-PHP-INPUT-CONNECT"},
		{"php_mailer.php", "php", "VGL-WEBSHELL-PHP-INPUT-MAIL"},
		{"aspx_sql_client.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-DB-CONNECT"},
		{"aspx_file_browser.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-FILE-BROWSER"},
		{"jsp_jdbc_client.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-DB-CONNECT"},
		{"jsp_file_browser.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-FILE-BROWSER"},
		// Evasion: callables and names built at run time, decoders.
		{"php_bareword_callback.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_array_ucallback.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"php_computed_name.php", "php", "VGL-WEBSHELL-PHP-INPUT-EXEC"},
		{"php_computed_call.php", "php", "VGL-WEBSHELL-PHP-COMPUTED-CALL-INPUT"},
		{"php_create_function_packed.php", "php", "VGL-WEBSHELL-PHP-INDIRECT-INPUT"},
		{"asp_decoder_execute.asp", "asp", "VGL-WEBSHELL-ASP-OBFUSCATED-EVAL"},
		{"asp_scriptcontrol.asp", "asp", "VGL-WEBSHELL-ASP-SCRIPT-CONTROL"},
		{"aspx_unsafe_eval_var.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-EVAL"},
		{"aspx_xslt_script.aspx", "aspx", "VGL-WEBSHELL-ASPX-UNSAFE-EVAL"},
		// Source encodings the engines decode before parsing, a wrapper
		// calling a function named by its caller, Web Forms input
		// choosing a file's path and content, eval of a run-time decode.
		{"jsp_utf16_bom.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-EXEC"},
		{"asp_utf7_codepage.asp", "asp", "VGL-WEBSHELL-ASP-INPUT-EVAL"},
		{"php_param_callee.php", "php", "VGL-WEBSHELL-PHP-INPUT-EVAL"},
		{"aspx_textbox_write.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-WRITE"},
		{"aspx_eval_base64.aspx", "aspx", "VGL-WEBSHELL-ASPX-EVAL-DECODED"},
		{"php_xslt_php_function.php", "php", "VGL-WEBSHELL-PHP-XPATH-PHP-CALL"},
		{"asp_xmlhttp_fetch.asp", "asp", "VGL-WEBSHELL-ASP-INPUT-FETCH"},
		{"jsp_jshell_eval.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-EVAL"},
		{"php_hex_function_names.php", "php", "VGL-WEBSHELL-PHP-ENCODED-NAME"},
		{"asp_decoder_blob_execute.asp", "asp", "VGL-WEBSHELL-ASP-DECODER-EVAL"},
		{"jsp_reflect_base64_names.jsp", "jsp", "VGL-WEBSHELL-JSP-EXEC-INPUT"},
		// Fourth pass (script pages): command execution in an XSLT script
		// block, a page dropping a script and running it, an upload stored
		// next to the page, server-side fetch / socket to a request-named
		// target, a server comment inside a JSP declaration.
		{"asp_xslt_shell_exec.asp", "asp", "VGL-WEBSHELL-ASP-XSLT-SCRIPT-EXEC"},
		{"asp_drop_and_run.asp", "asp", "VGL-WEBSHELL-ASP-DROP-EXEC"},
		{"aspx_upload_self_dir.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-WRITE-PATH"},
		{"jsp_url_fetch.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-FETCH"},
		{"jsp_socket_connect.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-CONNECT"},
		{"jsp_comment_in_declaration.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-EXEC"},
		{"asp_adsi_user_add.asp", "asp", "VGL-WEBSHELL-ASP-INPUT-ACCOUNT"},
		{"aspx_tcp_connect.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-CONNECT"},
		{"jsp_expression_eval.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-EVAL"},
		{"jsp_reflect_split_names.jsp", "jsp", "VGL-WEBSHELL-JSP-EXEC-INPUT"},
		{"aspx_codedom_compile.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-EVAL"},
		{"asp_jscript_new_function.asp", "asp", "VGL-WEBSHELL-ASP-INPUT-EVAL"},
		{"aspx_upload_any_path.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-WRITE-PATH"},
		{"jsp_reflect_defineclass.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-CLASSLOADER"},
		{"aspx_appdomain_load.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-ASSEMBLY-LOAD"},
		{"aspx_reflection_input.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-REFLECTION"},
		{"aspx_xaml_parse.aspx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-DESERIALIZE"},
		{"jsp_deserialize_body.jsp", "jsp", "VGL-WEBSHELL-JSP-INPUT-DESERIALIZE"},
		{"aspx_webmethod_exec.asmx", "aspx", "VGL-WEBSHELL-ASPX-INPUT-EXEC"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		seen[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			r := Analyze(readFixture(t, filepath.Join("shells", tc.file)))
			if !r.Webshell() {
				t.Fatalf("not detected: %+v", r)
			}
			got := struct{ Lang, Rule string }{r.Lang, r.Rule}
			want := struct{ Lang, Rule string }{tc.lang, tc.rule}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got)\n%s\nevidence: %q", diff, r.Evidence)
			}
			checkEvidence(t, r)
		})
	}
	// Every fixture must be listed, so a new one cannot be forgotten.
	ents, err := os.ReadDir("testdata/shells")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !seen[e.Name()] {
			t.Errorf("fixture %s has no test case", e.Name())
		}
	}
}

func TestAnalyzeBenign(t *testing.T) {
	ents, err := os.ReadDir("testdata/benign")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 5 {
		t.Fatalf("only %d benign fixtures", len(ents))
	}
	wantLang := map[string]string{
		"php_template_eval.php": "php", "php_plugin_callback.php": "php", "php_form_upload.php": "php",
		"php_config_include.php": "php", "jsp_print_param.jsp": "jsp", "asp_hello.asp": "asp",
		"aspx_hello.aspx": "aspx", "plain.html": "", "binary.bin": "",
		// Counterparts of the capability signals: fixed server, fixed
		// recipient, fixed directory.
		"php_db_fixed.php": "php", "php_contact_mail.php": "php", "php_download_fixed_dir.php": "php",
		"aspx_sql_fixed.aspx": "aspx",
		// Other languages mentioning server-side syntax in strings and
		// comments (issue #5): a Python format string '<%s instance>'
		// with eval(request), a Vim script quoting <?php in patterns.
		"python_format_request.py": "", "vim_php_functions.vim": "",
		// Counterparts of the encoding and write signals: a UTF-16 page
		// echoing an escaped parameter, a guestbook appending form text
		// to a fixed file.
		"jsp_utf16_hello.jsp": "jsp", "aspx_guestbook_fixed_file.aspx": "aspx",
		"php_xslt_format_date.php": "php", "asp_xmlhttp_fixed_host.asp": "asp",
		"php_hex_constants.php": "php", "asp_execute_include.asp": "asp",
		// Counterparts of the fourth-pass PHP signals: Perl with "<?" in a
		// regular expression, a fixed-URL fetch cached at a fixed path, a
		// socket client with a fixed command, an included template.
		"perl_short_tag_regex.pl": "", "php_fixed_feed_cache.php": "php", "php_socket_client.php": "php",
		"php_included_template.php": "php", "php_spellcheck_pipe.php": "php", "php_define_fixed_db.php": "php",
		"php_installer_config.php": "php", "php_closure_use.php": "php",
		// Counterparts of the fourth-pass script signals.
		"jsp_url_fixed_host.jsp": "jsp", "aspx_upload_subdir.aspx": "aspx", "asp_log_and_task.asp": "asp",
		"asp_adsi_list_users.asp": "asp", "jsp_spel_constant.jsp": "jsp",
		"aspx_upload_mapped_dir.aspx": "aspx", "aspx_type_from_constant.aspx": "aspx",
		"jsp_deserialize_fixed_file.jsp": "jsp", "aspx_webmethod_lookup.asmx": "aspx",
		// Counterparts of the tagless PHP fragment: prose quoting request
		// arrays, a tagless partial reading input into a paged query.
		"php_readme_snippets.txt": "", "php_tagless_partial.inc": "",
	}
	for _, e := range ents {
		t.Run(e.Name(), func(t *testing.T) {
			r := Analyze(readFixture(t, filepath.Join("benign", e.Name())))
			if r.Webshell() {
				t.Errorf("false positive: %+v", r)
			}
			if want, ok := wantLang[e.Name()]; !ok {
				t.Errorf("fixture %s has no expected language", e.Name())
			} else if r.Lang != want {
				t.Errorf("Lang = %q, want %q", r.Lang, want)
			}
			checkEvidence(t, r)
		})
	}
}

func checkEvidence(t *testing.T, r Result) {
	t.Helper()
	if len(r.Evidence) > maxEvidence {
		t.Errorf("%d evidence lines, max %d", len(r.Evidence), maxEvidence)
	}
	for _, e := range r.Evidence {
		if len(e) > maxEvidenceLen {
			t.Errorf("evidence line of %d bytes: %q", len(e), e)
		}
	}
	if r.Score < 0 || r.Score > 1 {
		t.Errorf("score %v out of range", r.Score)
	}
	if (r.Score > 0) != (r.Rule != "") {
		t.Errorf("score %v with rule %q", r.Score, r.Rule)
	}
}

func TestAnalyzeCapped(t *testing.T) {
	shell := []byte("<?php @eval($_POST['x']);")
	padded := append(append([]byte("<?php\n"), bytes.Repeat([]byte("// filler\n"), 200)...), shell...)
	r := AnalyzeWith(padded, Options{MaxBytes: 100})
	if r.Webshell() {
		t.Errorf("shell beyond the cap was seen: %+v", r)
	}
	if len(r.Evidence) == 0 || !strings.Contains(r.Evidence[0], "capped") {
		t.Errorf("evidence does not say the analysis was capped: %q", r.Evidence)
	}
	if r := AnalyzeWith(padded, Options{}); !r.Webshell() {
		t.Errorf("default cap missed the shell: %+v", r)
	}
}

func TestAnalyzeBinary(t *testing.T) {
	r := Analyze(readFixture(t, "benign/binary.bin"))
	if r.Webshell() || r.Lang != "" {
		t.Errorf("binary analysed as script: %+v", r)
	}
}

// A decompression bomb inside an eval chain must be cut at the cap.
func TestDecompressionBomb(t *testing.T) {
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write(bytes.Repeat([]byte("A"), 8<<20))
	w.Close()
	src := "<?php eval(gzinflate(base64_decode('" + base64.StdEncoding.EncodeToString(z.Bytes()) + "')));"
	r := Analyze([]byte(src))
	if r.Lang != "php" {
		t.Errorf("Lang = %q", r.Lang)
	}
	if got, _ := decodeInflate(z.String()); got != "" {
		t.Errorf("inflate of bomb returned %d bytes, want refusal", len(got))
	}
}

func TestPathological(t *testing.T) {
	inputs := map[string]string{
		"deep_parens":   "<?php " + strings.Repeat("(", 200000) + "$_GET[1]" + strings.Repeat(")", 200000) + ";",
		"deep_calls":    "<?php " + strings.Repeat("eval(", 50000) + "$_POST[0]" + strings.Repeat(")", 50000) + ";",
		"long_concat":   "<?php $a = 'x'" + strings.Repeat(".'x'", 100000) + "; eval($a);",
		"unclosed":      "<?php eval(\"" + strings.Repeat("$", 100000),
		"asp_deep":      "<% execute(" + strings.Repeat("(", 100000) + "request(\"x\")",
		"jsp_unicode":   "<% " + strings.Repeat("\\uuuu0041", 100000) + " %>",
		"many_tags":     strings.Repeat("<?php ?>", 100000),
		"nested_decode": nestedBase64("system($_GET[1]);", 12),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			r := Analyze([]byte(in))
			checkEvidence(t, r)
		})
	}
	// Bounded decode depth still finds a shell a few layers down.
	if r := Analyze([]byte(nestedBase64("system($_GET[1]);", 3))); !r.Webshell() {
		t.Errorf("3 layers of base64 eval not detected: %+v", r)
	}
}

func nestedBase64(code string, layers int) string {
	for range layers {
		code = "eval(base64_decode('" + base64.StdEncoding.EncodeToString([]byte(code)) + "'));"
	}
	return "<?php " + code
}

func TestDecoders(t *testing.T) {
	if got, ok := decodeBase64("c3lz dGVt"); !ok || got != "system" {
		t.Errorf("decodeBase64 = %q, %v", got, ok)
	}
	if got := rot13("flfgrz"); got != "system" {
		t.Errorf("rot13 = %q", got)
	}
	if got := reverse("metsys"); got != "system" {
		t.Errorf("reverse = %q", got)
	}
	if got, ok := decodeHex("73797374656d"); !ok || got != "system" {
		t.Errorf("decodeHex = %q, %v", got, ok)
	}
	if got, ok := decodeURL("sys%74em+x", true); !ok || got != "system x" {
		t.Errorf("decodeURL = %q, %v", got, ok)
	}
	if got := decodeJavaUnicode(`\u0052untime \uu0041`); got != "Runtime A" {
		t.Errorf("decodeJavaUnicode = %q", got)
	}
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, 9)
	w.Write([]byte("system($x);"))
	w.Close()
	if got, ok := decodeInflate(z.String()); !ok || got != "system($x);" {
		t.Errorf("decodeInflate = %q, %v", got, ok)
	}
	if _, ok := decodeZlib("not zlib"); ok {
		t.Error("decodeZlib accepted garbage")
	}
	if _, ok := decodeGzip("not gzip"); ok {
		t.Error("decodeGzip accepted garbage")
	}
	enc := string(readFixture(t, "shells/asp_script_encoded.asp"))
	got, ok := decodeScrenc(enc)
	if !ok || !strings.Contains(got, `eval request("x")`) {
		t.Errorf("decodeScrenc = %q, %v", got, ok)
	}
	if !pregHasE("/.*/e") || !pregHasE("#x#ie") || pregHasE("/e/i") || pregHasE("{a}") {
		t.Error("pregHasE")
	}
}

func TestDetectLangs(t *testing.T) {
	tests := map[string]string{
		"<?php echo 1;":                         "php",
		"<?= $x ?>":                             "php",
		"<? echo 1; ?>":                         "php",
		"<?$x=$_GET['c'];system($x);?>":         "php", // short tag then a variable
		"<?x":                                   "",
		"<?xml version=\"1.0\"?><a/>":           "",
		"<%@ page import=\"java.io.*\" %><% %>": "jsp",
		"<%@ Page Language=\"C#\" %><% %>":      "aspx",
		"<%@ Language=VBScript %><% Dim x %>":   "asp",
		"plain text":                            "",
		// Page structure in HTML attribute values and after an apostrophe.
		"<a href=\"<%= Request(\"u\") %>\">x</a>":                        "asp",
		"<input value=\"<?php echo $v ?>\">":                             "php",
		"<p>Don't <?php echo 1; ?></p>":                                  "php",
		"<% x = 1 %>\n'<%\nExecute Request(\"x\")\n%>":                   "asp",
		"//<?php\nrun();":                                                "php",
		"<%\nx = 1 ' it's\n%><%=x%>":                                     "asp",
		"<?php $u = 1; ?><script>var u = \"<?php echo $u ?>\";</script>": "php",
		// Syntax mentioned by other languages (issue #5).
		"return '<%s instance>' % name\nx = 1 %>":                        "",
		"pattern = r'(<%)(.*?)(%>)'":                                     "",
		"# renders <% name %> in templates":                              "",
		"s = \"<?php system($_GET['c']); ?>\"\nprint(s)":                 "",
		"let p = '^\\(<?php\\)\\?\\s*namespace'":                         "",
		"\"\tregion start (<?php or <?) without newlines\nlet a = \"b\"": "",
		"\" outside of <?php ?> it is not":                               "",
		"echo \"runat=server is an ASP.NET attribute\"":                  "",
		"<script runat=\"server\">void X(){}</script>":                   "aspx",
		"var t = _.template(\"<%([\\s\\S]+?)%>\")":                       "",
	}
	for in, want := range tests {
		got := ""
		if l := detectLangs(asciiLower(in)); len(l) > 0 {
			got = l[0]
		}
		if got != want {
			t.Errorf("detectLangs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDiscoverRoots(t *testing.T) {
	dir := &fstest.MapFile{Mode: 0o755 | 1<<31}
	fsys := fstest.MapFS{
		"etc/nginx/nginx.conf": {Data: []byte("http {\n include sites-enabled/*;\n}\n")},
		"etc/nginx/sites-enabled/shop": {Data: []byte(`server {
    listen 80;
    root /srv/shop/public; # the app
    location /static/ { alias /srv/static/; }
    location /u { root /home/$user/www; }
    # root /srv/commented;
}
`)},
		"etc/apache2/sites-enabled/000-default.conf": {Data: []byte(`<VirtualHost *:80>
	DocumentRoot "/var/www/html"
	Alias /docs "/usr/share/doc/app"
	#DocumentRoot /srv/old
</VirtualHost>
`)},
		"etc/httpd/conf/httpd.conf": {Data: []byte("DocumentRoot /srv/httpd\n")},
		"var/lib/tomcat10/conf/server.xml": {Data: []byte(`<Server><Service><Engine>
<!-- <Host name="old" appBase="/srv/commented"/> -->
<Host name="localhost" appBase="webapps" unpackWARs="true"/>
<Host name="other" appBase="/srv/tomcat-apps"/>
</Engine></Service></Server>`)},
		"srv/shop/public":          dir,
		"srv/static":               dir,
		"home":                     dir,
		"var/www/html":             dir,
		"usr/share/doc/app":        dir,
		"srv/httpd":                dir,
		"var/lib/tomcat10/webapps": dir,
		"srv/tomcat-apps":          dir,
		"srv/old":                  dir,
		"srv/commented":            dir,
	}
	got := DiscoverRoots(fsys)
	want := []string{"/home", "/srv/httpd", "/srv/shop/public", "/srv/static", "/srv/tomcat-apps", "/usr/share/doc/app", "/var/lib/tomcat10/webapps", "/var/www", "/var/www/html"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DiscoverRoots (-want +got)\n%s", diff)
	}
	if got := DiscoverRoots(fstest.MapFS{}); len(got) != 0 {
		t.Errorf("empty fs: %q", got)
	}
}

// TestDeterministic checks that the same content always gets the same
// Result, evidence text included: findings of equal weight in several
// functions, and lists of names, must not be reported in map order.
func TestDeterministic(t *testing.T) {
	var b strings.Builder
	b.WriteString("<?php\n")
	for i := range 12 {
		fmt.Fprintf(&b, "function w%d($c) { system($c); }\n", i)
	}
	b.WriteString("echo php_uname(), getmypid(), get_current_user(), ini_get('safe_mode'), ini_get('open_basedir'), ini_get('disable_functions');\n")
	src := []byte(b.String())
	first := Analyze(src)
	joined := strings.Join(first.Evidence, "\n")
	if !strings.Contains(joined, "w0() runs its parameter as a command") {
		t.Errorf("exec wrapper evidence does not name the first defined function:\n%s", joined)
	}
	if !strings.Contains(joined, "disable_functions,get_current_user,getmypid,open_basedir,php_uname,safe_mode") {
		t.Errorf("recon evidence is not a sorted list:\n%s", joined)
	}
	for range 30 {
		if r := Analyze(src); !reflect.DeepEqual(r, first) {
			t.Fatalf("Analyze is not deterministic:\n%q\n%q", first.Evidence, r.Evidence)
		}
	}
}

// TestDecisiveStop: when the likeliest language gives a decisive score,
// the other candidate languages are not analysed. That may not change a
// verdict, and the score it reports is at most 1-decisive below the best
// over all candidates.
func TestDecisiveStop(t *testing.T) {
	stopped, multi := 0, 0
	for _, fx := range allFixtures(t) {
		src := string(fx.data)
		low := asciiLower(src)
		langs := detectLangs(low)
		if len(langs) < 2 {
			continue
		}
		multi++
		all := 0.0
		for _, l := range langs {
			var fronts scriptFronts
			st := &state{budget: budgetPerToken*len(src) + budgetFloor}
			var sc *scorer
			if l == "php" {
				sc = analyzePHP(src, false, st)
			} else {
				sc = analyzeScript(src, low, l, st, &fronts)
			}
			all = max(all, sc.score())
			fronts.release()
		}
		r := Analyze(fx.data)
		if r.Score < all {
			stopped++
		}
		if r.Webshell() != (all >= Threshold) || r.Score < all-(1-decisive) {
			t.Errorf("%s: score %.4f, %.4f over all of %v", fx.name, r.Score, all, langs)
		}
	}
	if multi == 0 {
		t.Fatal("no fixture has two candidate languages")
	}
	t.Logf("%d of %d fixtures with several candidate languages scored lower than over all", stopped, multi)
}

// TestDecisiveStopWithin: an analysis that stops once its score is
// decisive (in the final pass, or in a summary round whose findings
// already decide) gives the verdict of the complete analysis.
func TestDecisiveStopWithin(t *testing.T) {
	defer func() { noDecisiveStop = false }()
	differ, decided := 0, 0
	fixtures := append(allFixtures(t),
		// Decided in the first summary round, before the wrappers'
		// structural signals and the final pass.
		fixture{name: "round", data: []byte(`<?php
function run($c) { return shell_exec($c); }
function run2($c) { return passthru($c); }
eval($_POST['x']);
echo run($_GET['c']);
@system($_GET['d']);
echo php_uname(); echo ini_get('disable_functions');
`)},
		// Decided in the final pass, before the literals are looked at.
		fixture{name: "final", data: []byte(`<?php
@eval($_POST['x']); @system($_REQUEST['c']);
$blob = "` + strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODkwYWJjZGVm", 120) + `";
`)},
	)
	for _, fx := range fixtures {
		noDecisiveStop = true
		full := Analyze(fx.data)
		noDecisiveStop = false
		r := Analyze(fx.data)
		if r.Score >= decisive {
			decided++
		}
		if reflect.DeepEqual(r, full) {
			continue
		}
		differ++
		if r.Webshell() != full.Webshell() || r.Score < decisive || r.Lang != full.Lang {
			t.Errorf("%s: stopped %s %.4f %s, complete %s %.4f %s", fx.name, r.Lang, r.Score, r.Rule, full.Lang, full.Score, full.Rule)
		}
	}
	if decided == 0 {
		t.Fatal("no fixture reached a decisive score")
	}
	if differ < 2 {
		t.Errorf("only %d results differ: the fixtures built to stop early did not", differ)
	}
	t.Logf("%d fixtures decided, %d of them with a result that differs from the complete analysis", decided, differ)
}
