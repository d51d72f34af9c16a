import "math"
rule m_entropy_hi { condition: math.entropy(0, filesize) > 7.0 }
rule m_entropy_lo { condition: math.entropy(0, filesize) < 5.0 }
rule m_entropy_str { condition: math.entropy("aaaa") == 0.0 and math.entropy("ab") == 1.0 }
rule m_mean { condition: math.mean(0, filesize) > 90.0 }
rule m_mean_str { condition: math.mean("\x00\x02") == 1.0 }
rule m_deviation { condition: math.deviation(0, filesize, math.MEAN_BYTES) < 60.0 }
rule m_serial { condition: math.serial_correlation(0, filesize) < 0.1 }
rule m_serial_str { condition: math.serial_correlation("abcabc") > -1.0 }
rule m_pi { condition: math.monte_carlo_pi(0, filesize) < 0.05 }
rule m_in_range { condition: math.in_range(math.entropy(0, filesize), 3.0, 6.5) }
rule m_minmax { condition: math.max(3, 9) == 9 and math.min(3, 9) == 3 and math.abs(-4) == 4 }
rule m_to_number { condition: math.to_number(1 == 1) == 1 and math.to_number(false) == 0 }
rule m_count { condition: math.count(0x00) > 100 }
rule m_count_range { condition: math.count(0x6c, 0, 64) >= 3 }
rule m_percentage { condition: math.percentage(0x00) > 0.2 }
rule m_mode { condition: math.mode() == 0 }
rule m_mode_range { condition: math.mode(0, 16) == 0x6c }
rule m_undef_range { condition: not defined math.entropy(filesize + 10, 4) }
rule m_partial_range { condition: math.entropy(filesize - 2, 100) >= 0.0 }
