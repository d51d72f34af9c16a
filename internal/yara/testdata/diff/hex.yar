rule h_plain { strings: $a = { 7F 45 4C 46 } condition: $a at 0 }
rule h_wild { strings: $a = { 68 65 ?? 6C 6F } condition: $a }
rule h_nibble { strings: $a = { 4? 4C 4? } $b = { ?F 45 } condition: $a and $b }
rule h_jump { strings: $a = { 68 65 [2] 6F } condition: $a }
rule h_jump_range { strings: $a = { 68 [1-4] 6F } condition: #a >= 1 }
rule h_jump_open { strings: $a = { 68 65 6C [4-] 64 } condition: $a }
rule h_jump_any { strings: $a = { 68 65 6C [-] 21 } condition: $a }
rule h_alt { strings: $a = { 77 ( 6F | 4F ) ( 72 6C | 52 4C ) } condition: $a }
rule h_alt_wild { strings: $a = { 68 ( 65 ?? | 45 4C ) 6C } condition: $a }
rule h_nested_alt { strings: $a = { 61 ( 62 ( 63 | 64 ) | 65 ) 66 } condition: $a }
rule h_zero_run { strings: $a = { 00 00 00 00 00 00 00 00 } condition: #a > 10 }
rule h_elf_x64 { strings: $a = { 7F 45 4C 46 02 01 01 } condition: $a at 0 }
rule h_comment { strings: $a = { 7F 45 // magic
  4C 46 /* rest */ } condition: $a }
rule h_private { strings: $a = { 68 65 6C } private condition: $a }
rule h_leading_wild { strings: $a = { ?? ?? 4C 46 02 } condition: $a }
