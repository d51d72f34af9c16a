// Rules in the style of public Linux rule sets, written for this test so they hit the
// /usr/bin binaries the differential test scans.
import "elf"
import "math"

private rule is_elf { condition: uint32(0) == 0x464C457F }

rule linux_coreutils : utils {
    meta:
        description = "GNU coreutils binary"
        severity = 1
    strings:
        $gnu = "GNU coreutils" ascii
        $help = "--help" ascii fullword
        $version = "--version" ascii fullword
        $bug = /Report bugs to: ?/
        $url = "https://www.gnu.org/software/coreutils/" nocase
    condition:
        is_elf and 3 of them
}

rule linux_glibc_user {
    strings:
        $s1 = "__libc_start_main" ascii
        $s2 = "GLIBC_2.2.5" ascii
        $s3 = "__cxa_finalize" ascii
        $s4 = "_ITM_registerTMCloneTable" ascii
    condition:
        is_elf and all of ($s*) and elf.type == elf.ET_DYN
}

rule linux_suspicious_strings {
    strings:
        $a1 = "/etc/shadow"
        $a2 = "/dev/tcp/"
        $a3 = "LD_PRELOAD"
        $a4 = /\/proc\/[0-9a-z_]+\/(maps|mem|environ)/
        $a5 = "ptrace" fullword
    condition:
        is_elf and 2 of them
}

rule linux_packed_high_entropy {
    condition:
        is_elf and math.entropy(0, filesize) > 7.2
}

rule linux_text_entropy {
    condition:
        is_elf and for any i in (0..elf.number_of_sections - 1) : (
            elf.sections[i].name == ".text" and
            math.entropy(elf.sections[i].offset, elf.sections[i].size) > 5.0
        )
}

rule linux_entry_endbr64 {
    strings:
        $endbr = { F3 0F 1E FA 31 ED 49 89 D1 }
    condition:
        is_elf and $endbr at elf.entry_point
}

rule linux_cpuid_miner_like {
    strings:
        $cpuid = { 0F A2 }
        $rdtsc = { 0F 31 }
        $stratum = "stratum+tcp://" nocase
    condition:
        is_elf and ($stratum or (#cpuid > 2 and #rdtsc > 0))
}

rule linux_many_locale_strings {
    strings:
        $l = /LC_[A-Z]{3,11}/
    condition:
        #l >= 2 and @l[1] < @l[#l]
}
