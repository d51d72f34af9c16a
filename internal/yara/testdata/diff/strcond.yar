rule s_count { strings: $a = "hello" condition: #a == 2 }
rule s_count_in { strings: $a = "hello" condition: #a in (0..10) == 1 }
rule s_at { strings: $a = "hello" condition: $a at 0 }
rule s_at_expr { strings: $a = "world" condition: $a at 2 + 4 }
rule s_in { strings: $a = "world" condition: $a in (0..100) }
rule s_offset { strings: $a = "hello" condition: @a[1] == 0 and @a == @a[1] and defined @a[2] and not defined @a[3] }
rule s_length { strings: $a = /hel+o/ $b = { 68 [1-3] 6F } condition: !a[1] == 5 and !a == 5 and !b[1] >= 3 }
rule s_any { strings: $a = "hello" $b = "nothere" condition: any of them }
rule s_all { strings: $a = "hello" $b = "nothere" condition: all of them }
rule s_none { strings: $a = "nothere" $b = "absent" condition: none of them }
rule s_n_of { strings: $a = "hello" $b = "world" $c = "absent" condition: 2 of them }
rule s_n_of_set { strings: $a = "hello" $b = "world" $c = "absent" condition: 2 of ($a, $c) or ($b and 1 of ($a, $c)) }
rule s_wild { strings: $x1 = "hello" $x2 = "world" $y = "absent" condition: all of ($x*) and not $y }
rule s_pct { strings: $a = "hello" $b = "world" $c = "absent" $d = "nope" condition: 50% of them }
rule s_pct_high { strings: $a = "hello" $b = "world" $c = "absent" $d = "nope" condition: 75% of them }
rule s_of_in { strings: $a = "hello" $b = "world" condition: any of them in (0..3) }
rule s_all_of_in { strings: $a = "hello" $b = "world" condition: all of them in (0..3) }
rule s_for_of { strings: $a = "hello" $b = "world" condition: for all of them : ( # > 0 ) }
rule s_for_of_at { strings: $a = "hello" $b = "world" condition: for any of ($a, $b) : ( $ at 0 ) }
rule s_for_of_n { strings: $a = "hello" $b = "world" $c = "absent" condition: for 2 of them : ( @ < 1000 ) }
rule s_for_of_len { strings: $a = "hello" $b = /wor[a-z]+/ condition: for all of them : ( ! >= 5 ) }
rule s_for_in { strings: $a = "o" condition: for all i in (1..#a) : ( @a[i] >= 0 ) }
rule s_for_in_any { strings: $a = "o" condition: for any i in (1..#a) : ( @a[i] > 20 ) }
rule s_for_in_n { strings: $a = "l" condition: for 3 i in (1..#a) : ( @a[i] < 100 ) }
rule s_for_list { condition: for any x in (1, 2, 3) : ( x == 2 ) }
rule s_for_list_all { condition: for all x in (1, 2, 3) : ( x < 3 ) }
rule s_for_nested { condition: for any i in (0..3) : ( for any j in (0..3) : ( i + j == 5 ) ) }
rule s_none_for { condition: for none i in (0..10) : ( i > 20 ) }
rule s_count_zero { strings: $a = "absent" condition: #a == 0 and not defined @a[1] }
