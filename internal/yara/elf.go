package yara

import (
	"encoding/binary"
)

// elfInfo is the subset of the ELF structure exposed by the elf module. It mirrors
// libyara's parser: tables are read only when they lie entirely inside the file.
type elfInfo struct {
	typ, machine                       int64
	entry                              value
	shoff, shentsize, phoff, phentsize int64
	nsec, nseg                         int64
	sections                           []elfSection
	segments                           []elfSegment
	symtab, dynsym                     []elfSym
	hasSymtab, hasDynsym               bool
	dynamic                            [][2]int64
	hasDynamic                         bool
}

type elfSection struct {
	typ, flags, addr, offset, size int64
	name                           value
	link                           int64
	entsize                        int64
}

type elfSegment struct {
	typ, flags, offset, vaddr, paddr, filesz, memsz, align int64
}

type elfSym struct {
	name                          value
	value, size, typ, bind, shndx int64
}

func parseELF(d []byte) *elfInfo {
	if len(d) < 52 || string(d[:4]) != "\x7fELF" {
		return nil
	}
	var bo binary.ByteOrder
	switch d[5] {
	case 1:
		bo = binary.LittleEndian
	case 2:
		bo = binary.BigEndian
	default:
		return nil
	}
	is64 := d[4] == 2
	if d[4] != 1 && d[4] != 2 {
		return nil
	}
	if is64 && len(d) < 64 {
		return nil
	}
	u16 := func(o int64) int64 { return int64(bo.Uint16(d[o:])) }
	u32 := func(o int64) int64 { return int64(bo.Uint32(d[o:])) }
	u64 := func(o int64) int64 { return int64(bo.Uint64(d[o:])) }
	word := u32
	if is64 {
		word = u64
	}
	e := &elfInfo{typ: u16(16), machine: u16(18)}
	var entry int64
	var shstrndx int64
	if is64 {
		entry, e.phoff, e.shoff = u64(24), u64(32), u64(40)
		e.phentsize, e.nseg, e.shentsize, e.nsec, shstrndx = u16(54), u16(56), u16(58), u16(60), u16(62)
	} else {
		entry, e.phoff, e.shoff = u32(24), u32(28), u32(32)
		e.phentsize, e.nseg, e.shentsize, e.nsec, shstrndx = u16(42), u16(44), u16(46), u16(48), u16(50)
	}
	size := int64(len(d))
	secSize, segSize := int64(40), int64(32)
	if is64 {
		secSize, segSize = 64, 56
	}
	fits := func(off, n, ent int64) bool {
		return off >= 0 && n >= 0 && off <= size && n*ent <= size-off
	}
	if e.nsec > 0 && fits(e.shoff, e.nsec, secSize) {
		for i := int64(0); i < e.nsec; i++ {
			o := e.shoff + i*secSize
			var s elfSection
			nameOff := u32(o)
			s.typ = u32(o + 4)
			if is64 {
				s.flags, s.addr, s.offset, s.size, s.link, s.entsize = u64(o+8), u64(o+16), u64(o+24), u64(o+32), u32(o+40), u64(o+56)
			} else {
				s.flags, s.addr, s.offset, s.size, s.link, s.entsize = u32(o+8), u32(o+12), u32(o+16), u32(o+20), u32(o+24), u32(o+36)
			}
			s.name = vInt(nameOff) // resolved below
			e.sections = append(e.sections, s)
		}
		var strtab []byte
		if shstrndx < e.nsec {
			st := e.sections[shstrndx]
			if st.offset >= 0 && st.offset < size && st.size >= 0 && st.size <= size-st.offset {
				strtab = d[st.offset : st.offset+st.size]
			}
		}
		for i := range e.sections {
			off := e.sections[i].name.i
			e.sections[i].name = undef
			if strtab != nil {
				e.sections[i].name = cstr(strtab, off)
			}
		}
		for _, s := range e.sections {
			if s.typ != 2 && s.typ != 11 { // SHT_SYMTAB, SHT_DYNSYM
				continue
			}
			symSize := int64(16)
			if is64 {
				symSize = 24
			}
			if s.offset < 0 || s.size < 0 || s.offset > size || s.size > size-s.offset || s.link >= int64(len(e.sections)) {
				continue
			}
			str := e.sections[s.link]
			var strs []byte
			if str.offset >= 0 && str.size >= 0 && str.offset <= size && str.size <= size-str.offset {
				strs = d[str.offset : str.offset+str.size]
			}
			var syms []elfSym
			for o := s.offset; o+symSize <= s.offset+s.size; o += symSize {
				var y elfSym
				var info int64
				nameOff := u32(o)
				if is64 {
					info, y.shndx, y.value, y.size = int64(d[o+4]), u16(o+6), u64(o+8), u64(o+16)
				} else {
					y.value, y.size, info, y.shndx = u32(o+4), u32(o+8), int64(d[o+12]), u16(o+14)
				}
				y.typ, y.bind = info&0xf, info>>4
				y.name = undef
				if strs != nil {
					y.name = cstr(strs, nameOff)
				}
				syms = append(syms, y)
			}
			if s.typ == 2 {
				e.symtab, e.hasSymtab = syms, true
			} else {
				e.dynsym, e.hasDynsym = syms, true
			}
		}
	}
	if e.nseg > 0 && fits(e.phoff, e.nseg, segSize) {
		for i := int64(0); i < e.nseg; i++ {
			o := e.phoff + i*segSize
			var g elfSegment
			g.typ = u32(o)
			if is64 {
				g.flags, g.offset, g.vaddr, g.paddr, g.filesz, g.memsz, g.align = u32(o+4), u64(o+8), u64(o+16), u64(o+24), u64(o+32), u64(o+40), u64(o+48)
			} else {
				g.offset, g.vaddr, g.paddr, g.filesz, g.memsz, g.flags, g.align = u32(o+4), u32(o+8), u32(o+12), u32(o+16), u32(o+20), u32(o+24), u32(o+28)
			}
			e.segments = append(e.segments, g)
			if g.typ == 2 { // PT_DYNAMIC
				dsz := int64(8)
				if is64 {
					dsz = 16
				}
				if g.offset >= 0 && g.filesz >= 0 && g.offset <= size && g.filesz <= size-g.offset {
					e.hasDynamic = true
					for p := g.offset; p+dsz <= g.offset+g.filesz; p += dsz {
						tag, val := word(p), word(p+dsz/2)
						e.dynamic = append(e.dynamic, [2]int64{tag, val})
						if tag == 0 {
							break
						}
					}
				}
			}
		}
	}
	e.entry = undef
	if e.typ == 2 { // ET_EXEC: program headers
		for _, g := range e.segments {
			if uint64(entry) >= uint64(g.vaddr) && uint64(entry) < uint64(g.vaddr)+uint64(g.memsz) {
				e.entry = vInt(g.offset + (entry - g.vaddr))
				break
			}
		}
	} else {
		for _, s := range e.sections {
			if s.typ != 0 && s.typ != 8 && uint64(entry) >= uint64(s.addr) && uint64(entry) < uint64(s.addr)+uint64(s.size) {
				e.entry = vInt(s.offset + (entry - s.addr))
				break
			}
		}
	}
	return e
}

func cstr(tab []byte, off int64) value {
	if off < 0 || off >= int64(len(tab)) {
		return undef
	}
	end := off
	for end < int64(len(tab)) && tab[end] != 0 {
		end++
	}
	if end == int64(len(tab)) {
		return undef
	}
	return vStr(string(tab[off:end]))
}

func (c *scanCtx) elfData() *elfInfo {
	if !c.elfDone {
		c.elfDone = true
		c.elf = parseELF(c.data)
	}
	return c.elf
}

var elfConsts = map[string]int64{
	"ET_NONE": 0, "ET_REL": 1, "ET_EXEC": 2, "ET_DYN": 3, "ET_CORE": 4,
	"EM_NONE": 0, "EM_M32": 1, "EM_SPARC": 2, "EM_386": 3, "EM_68K": 4, "EM_88K": 5,
	"EM_860": 7, "EM_MIPS": 8, "EM_MIPS_RS3_LE": 10, "EM_PPC": 20, "EM_PPC64": 21,
	"EM_ARM": 40, "EM_X86_64": 62, "EM_AARCH64": 183,
	"SHT_NULL": 0, "SHT_PROGBITS": 1, "SHT_SYMTAB": 2, "SHT_STRTAB": 3, "SHT_RELA": 4,
	"SHT_HASH": 5, "SHT_DYNAMIC": 6, "SHT_NOTE": 7, "SHT_NOBITS": 8, "SHT_REL": 9,
	"SHT_SHLIB": 10, "SHT_DYNSYM": 11,
	"SHF_WRITE": 1, "SHF_ALLOC": 2, "SHF_EXECINSTR": 4,
	"PT_NULL": 0, "PT_LOAD": 1, "PT_DYNAMIC": 2, "PT_INTERP": 3, "PT_NOTE": 4, "PT_SHLIB": 5,
	"PT_PHDR": 6, "PT_TLS": 7, "PT_GNU_EH_FRAME": 0x6474e550, "PT_GNU_STACK": 0x6474e551,
	"PT_GNU_RELRO": 0x6474e552,
	"PF_X":         1, "PF_W": 2, "PF_R": 4,
	"STT_NOTYPE": 0, "STT_OBJECT": 1, "STT_FUNC": 2, "STT_SECTION": 3, "STT_FILE": 4,
	"STT_COMMON": 5, "STT_TLS": 6,
	"STB_LOCAL": 0, "STB_GLOBAL": 1, "STB_WEAK": 2,
	"DT_NULL": 0, "DT_NEEDED": 1, "DT_STRTAB": 5, "DT_SYMTAB": 6, "DT_SONAME": 14, "DT_RPATH": 15,
	"DT_RUNPATH": 29,
}

func elfField(t vkind, fn func(e *elfInfo) value) expr {
	return funcNode{t: t, fn: func(c *scanCtx, _ []value) value {
		e := c.elfData()
		if e == nil {
			return undef
		}
		return fn(e)
	}}
}

func elfIndexed(t vkind, idx expr, fn func(e *elfInfo, i int64) value) expr {
	return funcNode{t: t, args: []expr{idx}, fn: func(c *scanCtx, a []value) value {
		e := c.elfData()
		if e == nil || a[0].k != kInt || a[0].i < 0 {
			return undef
		}
		return fn(e, a[0].i)
	}}
}

func elfResolve(segs []seg) (expr, string) {
	s := segs[0]
	if s.call {
		return nil, "is not a function"
	}
	if len(segs) == 1 && s.idx == nil {
		if v, ok := elfConsts[s.name]; ok {
			return constNode{vInt(v)}, ""
		}
		scalar := map[string]func(e *elfInfo) value{
			"type":               func(e *elfInfo) value { return vInt(e.typ) },
			"machine":            func(e *elfInfo) value { return vInt(e.machine) },
			"entry_point":        func(e *elfInfo) value { return e.entry },
			"number_of_sections": func(e *elfInfo) value { return vInt(e.nsec) },
			"number_of_segments": func(e *elfInfo) value { return vInt(e.nseg) },
			"sh_offset":          func(e *elfInfo) value { return vInt(e.shoff) },
			"sh_entry_size":      func(e *elfInfo) value { return vInt(e.shentsize) },
			"ph_offset":          func(e *elfInfo) value { return vInt(e.phoff) },
			"ph_entry_size":      func(e *elfInfo) value { return vInt(e.phentsize) },
			"symtab_entries": func(e *elfInfo) value {
				if !e.hasSymtab {
					return undef
				}
				return vInt(int64(len(e.symtab)))
			},
			"dynsym_entries": func(e *elfInfo) value {
				if !e.hasDynsym {
					return undef
				}
				return vInt(int64(len(e.dynsym)))
			},
			"dynamic_section_entries": func(e *elfInfo) value {
				if !e.hasDynamic {
					return undef
				}
				return vInt(int64(len(e.dynamic)))
			},
		}
		if fn, ok := scalar[s.name]; ok {
			return elfField(kInt, fn), ""
		}
		return nil, "unknown field"
	}
	if s.idx == nil || len(segs) != 2 || segs[1].call || segs[1].idx != nil {
		return nil, "expected " + s.name + "[i].field"
	}
	f := segs[1].name
	var pick func(e *elfInfo, i int64) value
	t := kInt
	switch s.name {
	case "sections":
		get := map[string]func(x elfSection) value{
			"type": func(x elfSection) value { return vInt(x.typ) }, "flags": func(x elfSection) value { return vInt(x.flags) },
			"address": func(x elfSection) value { return vInt(x.addr) }, "size": func(x elfSection) value { return vInt(x.size) },
			"offset": func(x elfSection) value { return vInt(x.offset) }, "name": func(x elfSection) value { return x.name },
		}[f]
		if get == nil {
			return nil, "unknown section field " + f
		}
		if f == "name" {
			t = kStr
		}
		pick = func(e *elfInfo, i int64) value {
			if i >= int64(len(e.sections)) {
				return undef
			}
			return get(e.sections[i])
		}
	case "segments":
		get := map[string]func(x elfSegment) int64{
			"type": func(x elfSegment) int64 { return x.typ }, "flags": func(x elfSegment) int64 { return x.flags },
			"offset": func(x elfSegment) int64 { return x.offset }, "virtual_address": func(x elfSegment) int64 { return x.vaddr },
			"physical_address": func(x elfSegment) int64 { return x.paddr }, "file_size": func(x elfSegment) int64 { return x.filesz },
			"memory_size": func(x elfSegment) int64 { return x.memsz }, "alignment": func(x elfSegment) int64 { return x.align },
		}[f]
		if get == nil {
			return nil, "unknown segment field " + f
		}
		pick = func(e *elfInfo, i int64) value {
			if i >= int64(len(e.segments)) {
				return undef
			}
			return vInt(get(e.segments[i]))
		}
	case "symtab", "dynsym":
		get := map[string]func(x elfSym) value{
			"name": func(x elfSym) value { return x.name }, "value": func(x elfSym) value { return vInt(x.value) },
			"size": func(x elfSym) value { return vInt(x.size) }, "type": func(x elfSym) value { return vInt(x.typ) },
			"bind": func(x elfSym) value { return vInt(x.bind) }, "shndx": func(x elfSym) value { return vInt(x.shndx) },
		}[f]
		if get == nil {
			return nil, "unknown symbol field " + f
		}
		if f == "name" {
			t = kStr
		}
		dyn := s.name == "dynsym"
		pick = func(e *elfInfo, i int64) value {
			tab := e.symtab
			if dyn {
				tab = e.dynsym
			}
			if i >= int64(len(tab)) {
				return undef
			}
			return get(tab[i])
		}
	case "dynamic":
		var k int
		switch f {
		case "type":
			k = 0
		case "val":
			k = 1
		default:
			return nil, "unknown dynamic field " + f
		}
		pick = func(e *elfInfo, i int64) value {
			if i >= int64(len(e.dynamic)) {
				return undef
			}
			return vInt(e.dynamic[i][k])
		}
	default:
		return nil, "unknown array " + s.name
	}
	return elfIndexed(t, s.idx, pick), ""
}
