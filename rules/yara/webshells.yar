// Generic PHP and JSP web shell traits. Written for Vigil (MIT).

rule VGL_Webshell_PHP_Request_Exec : webshell
{
    meta:
        id = "VGL-WEBSHELL-YARA-PHP-EXEC"
        description = "PHP passing request input to code or command execution"
        severity = "critical"
        score = 90
        attack = "TA0003,T1505.003"
        kind = "webshell"
    strings:
        $php = "<?" 
        $re1a = /eval\s*\(\s*(base64_decode\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $re1b = /assert\s*\(\s*(base64_decode\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $re1c = /system\s*\(\s*(base64_decode\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $re1d = /passthru\s*\(\s*(base64_decode\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $re1e = /exec\s*\(\s*(base64_decode\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $re1f = /popen\s*\(\s*(base64_decode\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $re1g = /proc_open\s*\(\s*(base64_decode\s*\(\s*|str_rot13\s*\(\s*|stripslashes\s*\(\s*)?\$_(GET|POST|REQUEST|COOKIE|SERVER)\s*\[/ nocase
        $re2 = /\$_(GET|POST|REQUEST|COOKIE)\s*\[[^\]]{1,40}\]\s*\(\s*\$_(GET|POST|REQUEST|COOKIE)\s*\[/ nocase
        $re3 = /create_function\s*\([^)]{0,80}\$_(GET|POST|REQUEST|COOKIE)/ nocase
        $re4 = /preg_replace\s*\(\s*['"][^'"]{0,40}\/e['"]\s*,\s*\$_(GET|POST|REQUEST|COOKIE)/ nocase
    condition:
        // A PHP page opens with its tag; a tool or document that only
        // quotes a payload further in is not one.
        filesize < 4MB and $php in (0..1024) and 1 of ($re*)
}

rule VGL_Webshell_PHP_Obfuscated_Eval : webshell
{
    meta:
        id = "VGL-WEBSHELL-YARA-PHP-OBFUSCATED"
        description = "PHP evaluating a compressed or encoded payload"
        severity = "high"
        score = 80
        attack = "TA0003,T1505.003,TA0005,T1027"
        kind = "webshell"
    strings:
        $php = "<?"
        $re1 = /eval\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode|strrev)\s*\(\s*(gzinflate|gzuncompress|gzdecode|str_rot13|base64_decode|strrev)\s*\(/ nocase
        $re2 = /eval\s*\(\s*base64_decode\s*\(\s*['"][A-Za-z0-9+\/=]{200,}/ nocase
    condition:
        // A PHP page opens with its tag; a tool or document that only
        // quotes a payload further in is not one.
        filesize < 4MB and $php in (0..1024) and 1 of ($re*)
}

rule VGL_Webshell_JSP_Runtime_Exec : webshell
{
    meta:
        id = "VGL-WEBSHELL-YARA-JSP-EXEC"
        description = "JSP running a command taken from the request"
        severity = "critical"
        score = 90
        attack = "TA0003,T1505.003"
        kind = "webshell"
    strings:
        $jsp1 = "<%"
        $jsp2 = "<jsp:scriptlet"
        $exec1 = "Runtime.getRuntime().exec("
        $exec2 = "new ProcessBuilder("
        $req = "request.getParameter("
    condition:
        filesize < 4MB and ($jsp1 in (0..4096) or $jsp2 in (0..4096)) and 1 of ($exec*) and $req
}

rule VGL_Webshell_JSP_ClassLoader : webshell
{
    meta:
        id = "VGL-WEBSHELL-YARA-JSP-CLASSLOADER"
        description = "JSP defining classes from encrypted request bodies (Behinder/Godzilla style)"
        severity = "critical"
        score = 90
        attack = "TA0003,T1505.003,TA0005,T1027"
        kind = "webshell"
    strings:
        $jsp1 = "<%"
        $jsp2 = "<jsp:"
        $d1 = "defineClass"
        $d2 = "ClassLoader"
        $c1 = "javax.crypto.Cipher"
        $c2 = "Cipher.getInstance"
        $c3 = "AES"
        $r1 = "request.getReader()"
        $r2 = "request.getInputStream()"
        $r3 = "getParameter("
    condition:
        filesize < 4MB and ($jsp1 in (0..4096) or $jsp2 in (0..4096)) and all of ($d*) and 1 of ($c*) and 1 of ($r*)
}
