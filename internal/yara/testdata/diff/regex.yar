rule r_basic { strings: $a = /hel+o/ condition: $a }
rule r_nocase_flag { strings: $a = /HELLO w[a-z]+/i condition: $a }
rule r_nocase_mod { strings: $a = /HELLO w[a-z]+/ nocase condition: $a }
rule r_dot { strings: $a = /line.next/ condition: $a }
rule r_dotall { strings: $a = /line.next/s condition: $a }
rule r_classes { strings: $a = /\d{3}-\d{4}/ $b = /[A-Z][a-z]+\s[A-Z][a-z]+/ condition: any of them }
rule r_word { strings: $a = /\bword\b/ condition: $a }
rule r_nonword { strings: $a = /\Bord/ condition: $a }
rule r_alt { strings: $a = /(cat|dog|bird)s?/ condition: $a }
rule r_lazy { strings: $a = /h.*?o/ condition: $a }
rule r_greedy { strings: $a = /h.*o/ condition: $a }
rule r_repeat { strings: $a = /a{2,3}/ $b = /b{2}/ $c = /x{,2}y/ condition: any of them }
rule r_anchor_start { strings: $a = /^hello/ condition: $a }
rule r_anchor_end { strings: $a = /end$/ condition: $a }
rule r_hex_escape { strings: $a = /\x7fELF/ condition: $a }
rule r_url { strings: $a = /https?:\/\/[a-z0-9.\-]+\/[a-z0-9_\/]*/ condition: $a }
rule r_ip { strings: $a = /([0-9]{1,3}\.){3}[0-9]{1,3}/ condition: $a }
rule r_wide { strings: $a = /wide[a-z]+/ wide condition: $a }
rule r_fullword { strings: $a = /wor[a-z]/ fullword condition: $a }
rule r_negclass { strings: $a = /q[^u]/ condition: $a }
rule r_plus_lazy { strings: $a = /a+?b/ condition: $a }
rule r_escapes { strings: $a = /tab\there/ $b = /\.\*\+\?/ condition: any of them }
rule r_binary { strings: $a = /\x00\x01[\x02-\x05]/ condition: $a }
rule r_wS { strings: $a = /\w+@\w+\.com/ $b = /\S+\s\S+/ condition: all of them }
