global rule g_small { condition: filesize < 10MB }
rule g_dep { strings: $a = "hello" condition: $a }
rule g_any { condition: true }
