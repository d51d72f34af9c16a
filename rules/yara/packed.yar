// Packed ELF executables. Written for Vigil (MIT).

rule VGL_ELF_UPX_Packed
{
    meta:
        id = "VGL-MALWARE-YARA-UPX"
        description = "UPX-packed ELF executable"
        severity = "medium"
        score = 60
        attack = "TA0005,T1027.002"
        kind = "malware"
    strings:
        $magic = "UPX!"
        $info = "$Info: This file is packed with the UPX"
        $id = "$Id: UPX "
    condition:
        uint32(0) == 0x464c457f and ($magic in (0..1024) or $info or $id)
}
