global private rule g_elf_only { condition: uint32(0) == 0x464C457F }
rule g_needs_elf { condition: true }
rule g_needs_elf_hello { strings: $a = "hello" condition: $a }
