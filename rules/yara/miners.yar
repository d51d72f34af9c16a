// Linux coin miners: XMRig and its forks, cpuminer-style stratum clients and
// their pool configuration files. Written for Vigil (MIT).

rule VGL_Miner_XMRig_Binary
{
    meta:
        id = "VGL-MALWARE-YARA-MINER-XMRIG"
        description = "XMRig-family coin miner executable"
        severity = "high"
        score = 85
        attack = "TA0040,T1496"
        kind = "malware"
    strings:
        $name1 = "xmrig" nocase
        $opt1 = "donate-level"
        $opt2 = "--cpu-max-threads-hint"
        $opt3 = "randomx" nocase
        $opt4 = "cryptonight" nocase
        $opt5 = "\"huge-pages\""
        $opt6 = "--nicehash"
        $url1 = "stratum+tcp://"
        $url2 = "stratum+ssl://"
    condition:
        uint32(0) == 0x464c457f and $name1 and 3 of ($opt*, $url*)
}

rule VGL_Miner_Stratum_Client
{
    meta:
        id = "VGL-MALWARE-YARA-MINER-STRATUM"
        description = "Executable speaking the stratum mining protocol"
        severity = "high"
        score = 80
        attack = "TA0040,T1496"
        kind = "malware"
    strings:
        $m1 = "mining.subscribe"
        $m2 = "mining.authorize"
        $m3 = "mining.submit"
        $m4 = "mining.notify"
        $url1 = "stratum+tcp://"
        $url2 = "stratum+ssl://"
        $url3 = "stratum+tls://"
    condition:
        uint32(0) == 0x464c457f and 3 of ($m*) and 1 of ($url*)
}

rule VGL_Miner_Config
{
    meta:
        id = "VGL-MALWARE-YARA-MINER-CONFIG"
        description = "Coin miner pool configuration (XMRig-style JSON)"
        severity = "high"
        score = 80
        attack = "TA0040,T1496"
        kind = "malware"
    strings:
        $pools = "\"pools\"" nocase
        $url = "\"url\"" nocase
        $user = "\"user\"" nocase
        $k1 = "\"donate-level\"" nocase
        $k2 = "\"rig-id\"" nocase
        $k3 = "\"nicehash\"" nocase
        $k4 = "\"algo\"" nocase
        $k5 = "\"coin\"" nocase
        $s1 = "stratum+tcp://" nocase
        $s2 = "stratum+ssl://" nocase
        $s3 = "stratum+tls://" nocase
    condition:
        filesize < 1MB and $pools and $url and $user and 2 of ($k*, $s*)
}
