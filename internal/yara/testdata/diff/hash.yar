import "hash"
rule hs_md5_hello { condition: hash.md5(0, 5) == "5d41402abc4b2a76b9719d911017c592" }
rule hs_sha1_hello { condition: hash.sha1(0, 5) == "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d" }
rule hs_sha256_hello { condition: hash.sha256(0, 5) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" }
rule hs_crc32_hello { condition: hash.crc32(0, 5) == 0x3610a686 }
rule hs_md5_str { condition: hash.md5("hello") == "5d41402abc4b2a76b9719d911017c592" }
rule hs_crc32_str { condition: hash.crc32("hello") == 0x3610a686 }
rule hs_checksum { condition: hash.checksum32("ab") == 195 }
rule hs_elf_head { condition: hash.md5(0, 4) == "2a07ad0b6cf4bd8ce6e5c1e3a6fa2d06" }
rule hs_undef { condition: not defined hash.md5(filesize, 4) }
rule hs_clipped { condition: hash.md5(0, filesize + 100) == hash.md5(0, filesize) }
