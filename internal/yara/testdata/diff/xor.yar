rule x_all { strings: $a = "secretpayload" xor condition: $a }
rule x_range { strings: $a = "secretpayload" xor(1-0x20) condition: $a }
rule x_single { strings: $a = "secretpayload" xor(0x55) condition: $a }
rule x_wide { strings: $a = "xorwide" xor wide condition: $a }
rule x_wide_ascii { strings: $a = "xorwide" xor wide ascii condition: $a }
rule x_fullword { strings: $a = "payload" xor fullword condition: $a }
rule x_private { strings: $a = "secretpayload" xor private condition: #a > 0 }
