import "elf"
rule e_is_elf { condition: elf.type == elf.ET_DYN or elf.type == elf.ET_EXEC }
rule e_dyn { condition: elf.type == elf.ET_DYN }
rule e_x86_64 { condition: elf.machine == elf.EM_X86_64 }
rule e_entry { condition: elf.entry_point > 0 and uint8(elf.entry_point) != 0 }
rule e_entry_bytes { condition: uint32(elf.entry_point) == 0xfa1e0ff3 }
rule e_nsec { condition: elf.number_of_sections > 20 }
rule e_nseg { condition: elf.number_of_segments >= 8 }
rule e_text { condition: for any i in (0..elf.number_of_sections - 1) : ( elf.sections[i].name == ".text" and elf.sections[i].type == elf.SHT_PROGBITS ) }
rule e_text_size { condition: for any i in (0..elf.number_of_sections - 1) : ( elf.sections[i].name == ".text" and elf.sections[i].size > 1000 and elf.sections[i].offset > 0 ) }
rule e_interp { condition: for any i in (0..elf.number_of_segments - 1) : ( elf.segments[i].type == elf.PT_INTERP ) }
rule e_exec_seg { condition: for any i in (0..elf.number_of_segments - 1) : ( elf.segments[i].type == elf.PT_LOAD and elf.segments[i].flags & elf.PF_X != 0 ) }
rule e_stack { condition: for any i in (0..elf.number_of_segments - 1) : ( elf.segments[i].type == elf.PT_GNU_STACK and elf.segments[i].flags == elf.PF_R | elf.PF_W ) }
rule e_dynsym_malloc { condition: for any i in (0..elf.dynsym_entries - 1) : ( elf.dynsym[i].name == "malloc" ) }
rule e_dynsym_func { condition: for any i in (0..elf.dynsym_entries - 1) : ( elf.dynsym[i].type == elf.STT_FUNC and elf.dynsym[i].bind == elf.STB_GLOBAL ) }
rule e_symtab { condition: defined elf.symtab_entries }
rule e_not_elf { condition: not defined elf.type }
rule e_sec_oob { condition: not defined elf.sections[1000].name }
rule e_ph { condition: elf.ph_offset == 64 and elf.ph_entry_size == 56 and elf.sh_entry_size == 64 }
rule e_dynamic { condition: elf.dynamic_section_entries > 10 and for any i in (0..elf.dynamic_section_entries - 1) : ( elf.dynamic[i].type == elf.DT_NEEDED ) }
