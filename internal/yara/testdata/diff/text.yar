// Text strings and their modifiers.
rule t_plain { strings: $a = "hello" condition: $a }
rule t_escapes { strings: $a = "tab\there" $b = "quote\"q" $c = "back\\slash" $d = "\x41\x42C" $e = "line\nnext" condition: any of them }
rule t_nocase { strings: $a = "HeLLo WoRlD" nocase condition: $a }
rule t_wide { strings: $a = "widestr" wide condition: $a }
rule t_wide_ascii { strings: $a = "widestr" wide ascii condition: #a >= 1 }
rule t_wide_nocase { strings: $a = "WIDESTR" wide nocase condition: $a }
rule t_fullword { strings: $a = "word" fullword condition: $a }
rule t_fullword_count { strings: $a = "word" fullword $b = "word" condition: #a < #b }
rule t_fullword_wide { strings: $a = "wfw" fullword wide condition: $a }
rule t_private { strings: $a = "hello" private $b = "world" condition: $a and $b }
rule t_anon { strings: $ = "hello" $ = "world" condition: all of them }
rule t_overlap { strings: $a = "aa" condition: #a > 3 }
rule t_binarytext { strings: $a = "\x00\x01\x02\x03" condition: $a }
