rule b_std { strings: $a = "This program cannot" base64 condition: $a }
rule b_wide { strings: $a = "This program cannot" base64wide condition: $a }
rule b_both { strings: $a = "This program cannot" base64 base64wide condition: $a }
rule b_alpha { strings: $a = "hello world" base64("!@#$%^&*(){}[].,|ABCDEFGHIJ\x09LMNOPQRSTUVWXYZabcdefghijklmnopqrstu") condition: $a }
rule b_short { strings: $a = "ab" base64 condition: $a }
rule b_cmd { strings: $a = "/bin/sh -c" base64 condition: $a }
