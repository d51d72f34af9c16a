// Common Linux backdoor and botnet traits: Mirai-style bots, Tsunami/Kaiten
// IRC bots and reverse-shell implants. Written for Vigil (MIT).

rule VGL_Botnet_Mirai_Traits
{
    meta:
        id = "VGL-MALWARE-YARA-MIRAI"
        description = "Mirai-style IoT botnet: watchdog disabling, scanner and attack strings"
        severity = "critical"
        score = 90
        attack = "TA0011,T1071,TA0040,T1498"
        kind = "malware"
    strings:
        $wd1 = "/dev/watchdog"
        $wd2 = "/dev/misc/watchdog"
        $a1 = "TSource Engine Query"
        $a2 = "POST /cdn-cgi/"
        $a3 = "/bin/busybox MIRAI"
        $a4 = "/bin/busybox ECCHI"
        $a5 = "REPORT %s:%s"
        $a6 = "abcdefghijklmnopqrstuvw012345678"
        $p1 = "/proc/net/tcp"
        $p2 = "/proc/self/exe"
    condition:
        uint32(0) == 0x464c457f and filesize < 5MB and 1 of ($wd*) and 2 of ($a*) and 1 of ($p*)
}

rule VGL_Botnet_Tsunami_Kaiten
{
    meta:
        id = "VGL-MALWARE-YARA-TSUNAMI"
        description = "Tsunami/Kaiten IRC bot commands"
        severity = "critical"
        score = 90
        attack = "TA0011,T1071.003,TA0040,T1498"
        kind = "malware"
    strings:
        $c1 = "GETSPOOFS"
        $c2 = "KILLALL"
        $c3 = "TSUNAMI <target>"
        $c4 = "PAN <target>"
        $c5 = "UDP <target>"
        $c6 = "NICK <nick>"
        $c7 = "DISABLE"
        $c8 = "SPOOFS <subnet>"
        $i1 = "PRIVMSG %s :"
        $i2 = "NOTICE %s :"
        $i3 = "JOIN %s"
    condition:
        4 of ($c*) and 1 of ($i*)
}

rule VGL_Backdoor_ReverseShell_ELF
{
    meta:
        id = "VGL-MALWARE-YARA-REVSHELL-ELF"
        description = "Small ELF that spawns an interactive shell over a socket and hides its history"
        severity = "high"
        score = 80
        attack = "TA0002,T1059.004,TA0011,T1095"
        kind = "malware"
    strings:
        $sh1 = "/bin/sh -i"
        $sh2 = "/bin/bash -i"
        $sh3 = "bash -i >& /dev/tcp/"
        $sh4 = "/dev/tcp/"
        $h1 = "HISTFILE=/dev/null"
        $h2 = "unset HISTFILE"
        $h3 = "HISTSIZE=0"
        $n1 = "dup2"
        $n2 = "connect"
        $n3 = "socket"
    condition:
        uint32(0) == 0x464c457f and filesize < 3MB and 1 of ($sh*) and 1 of ($h*) and 2 of ($n*)
}
