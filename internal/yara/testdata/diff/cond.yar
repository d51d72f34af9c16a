rule c_true { condition: true }
rule c_false { condition: false }
rule c_arith { condition: 1 + 2 * 3 == 7 and 10 \ 3 == 3 and 10 % 3 == 1 and -5 + 10 == 5 }
rule c_bitwise { condition: (0xF0 & 0x3C) == 0x30 and (1 | 6) == 7 and (5 ^ 1) == 4 and ~0 == -1 and 1 << 4 == 16 and 256 >> 4 == 16 }
rule c_prec { condition: 2 + 3 * 4 - 1 == 13 and (2 + 3) * 4 == 20 and 1 | 2 ^ 3 & 4 == 3 }
rule c_numbers { condition: 0x10 == 16 and 0o20 == 16 and 1KB == 1024 and 2MB == 2097152 }
rule c_cmp { condition: 1 < 2 and 2 <= 2 and 3 > 2 and 3 >= 3 and 1 != 2 }
rule c_filesize { condition: filesize > 100 }
rule c_filesize_small { condition: filesize < 1KB }
rule c_ints { condition: uint8(0) == 0x7F and uint16(0) == 0x457F and uint32(0) == 0x464C457F and uint32be(0) == 0x7F454C46 and uint16be(2) == 0x4C46 }
rule c_signed { condition: int8(0) == 127 and int16(0) > 0 and int32(0) == 0x464C457F }
rule c_signed_neg { condition: int8(filesize - 1) < 0 or int16be(0) < 0 }
rule c_outside { condition: not defined uint32(filesize) }
rule c_str_ops { condition: "hello world" contains "lo w" and "Hello" icontains "ELL" and "abcdef" startswith "abc" and "ABCdef" istartswith "abc" and "abcdef" endswith "def" and "abcDEF" iendswith "def" and "HeLLo" iequals "hello" }
rule c_str_cmp { condition: "abc" == "abc" and "abc" != "abd" and "abc" < "abd" }
rule c_matches { condition: "hello world" matches /wor.d$/ and not ("abc" matches /^b/) }
rule c_matches_i { condition: "HELLO" matches /hello/i }
rule c_not { condition: not false and not (1 == 2) }
rule c_float { condition: 1.5 + 1 == 2.5 and 3.0 > 2 and 7 \ 2.0 == 3.5 }
rule c_neg_div { condition: -7 \ 2 == -3 and -7 % 2 == -1 }
