rule base_r { strings: $a = "hello" condition: $a }
private rule priv_r { strings: $a = "world" condition: $a }
rule uses_both { condition: base_r and priv_r }
rule uses_not { condition: not base_r }
rule tagged : alpha beta { meta: author = "vigil" score = 80 neg = -3 flag = false condition: base_r }
rule rule_set { condition: any of (base_r, priv_r) }
rule rule_set_wild { condition: all of (base_*) }
rule rule_count { condition: 2 of (base_r, priv_r, uses_not) }
