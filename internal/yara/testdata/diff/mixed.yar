rule mx_shell { strings: $a = "/bin/sh" $b = "/bin/bash" $c = /\/dev\/tcp\/[0-9.]+\/[0-9]+/ condition: any of them }
rule mx_elf_and_str { strings: $a = "GLIBC_2" condition: uint32(0) == 0x464C457F and #a > 2 }
rule mx_libc { strings: $a = "libc.so.6" condition: $a and filesize < 5MB }
rule mx_usage { strings: $a = "Usage:" nocase $b = "--help" fullword condition: all of them }
rule mx_version { strings: $a = /[0-9]+\.[0-9]+\.[0-9]+/ condition: #a > 1 }
rule mx_gnu { strings: $a = "GNU" wide ascii condition: $a in (0..1024) }
rule mx_hexmix { strings: $a = { 48 89 ?? 48 } $b = { E8 ?? ?? ?? ?? } condition: #a > 2 and #b > 5 }
rule mx_func_prologue { strings: $a = { 55 48 89 E5 } $b = { F3 0F 1E FA } condition: any of them }
