package hashcache

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
)

// The cache file is little-endian:
//
//	magic   [8]byte  "VGEXESH1"
//	clock   uint64
//	count   uint32
//	count × { dev, ino uint64; size, mtime, ctime int64; used uint64; sha256 [32]byte }
//	crc32c  uint32   over everything before it
//
// Entries are written most recently used first.
const (
	magic      = "VGEXESH1"
	headerSize = len(magic) + 8 + 4
	entrySize  = 6*8 + sha256.Size
	crcSize    = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodedSize(n int) int { return headerSize + n*entrySize + crcSize }

func encode(clock uint64, entries map[Key]entry) []byte {
	type kv struct {
		k Key
		e entry
	}
	list := make([]kv, 0, len(entries))
	for k, e := range entries {
		list = append(list, kv{k, e})
	}
	slices.SortFunc(list, func(a, b kv) int {
		switch {
		case a.e.used > b.e.used:
			return -1
		case a.e.used < b.e.used:
			return 1
		}
		return 0
	})
	b := make([]byte, 0, encodedSize(len(list)))
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint64(b, clock)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(list)))
	for _, x := range list {
		b = binary.LittleEndian.AppendUint64(b, x.k.Dev)
		b = binary.LittleEndian.AppendUint64(b, x.k.Ino)
		b = binary.LittleEndian.AppendUint64(b, uint64(x.k.Size))
		b = binary.LittleEndian.AppendUint64(b, uint64(x.k.Mtime))
		b = binary.LittleEndian.AppendUint64(b, uint64(x.k.Ctime))
		b = binary.LittleEndian.AppendUint64(b, x.e.used)
		b = append(b, x.e.sum[:]...)
	}
	return appendCRC(b)
}

// appendCRC appends the checksum of b to b.
func appendCRC(b []byte) []byte {
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

var errCorrupt = errors.New("corrupt cache file")

func decode(b []byte) (clock uint64, entries map[Key]entry, err error) {
	if len(b) < headerSize+crcSize || string(b[:len(magic)]) != magic {
		return 0, nil, fmt.Errorf("%w: bad header", errCorrupt)
	}
	body, sum := b[:len(b)-crcSize], binary.LittleEndian.Uint32(b[len(b)-crcSize:])
	if crc32.Checksum(body, castagnoli) != sum {
		return 0, nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	clock = binary.LittleEndian.Uint64(b[len(magic):])
	n := binary.LittleEndian.Uint32(b[len(magic)+8:])
	rest := body[headerSize:]
	if uint64(len(rest)) != uint64(n)*entrySize {
		return 0, nil, fmt.Errorf("%w: %d entries in %d bytes", errCorrupt, n, len(rest))
	}
	entries = make(map[Key]entry, n)
	for len(rest) > 0 {
		var k Key
		var e entry
		k.Dev = binary.LittleEndian.Uint64(rest[0:])
		k.Ino = binary.LittleEndian.Uint64(rest[8:])
		k.Size = int64(binary.LittleEndian.Uint64(rest[16:]))
		k.Mtime = int64(binary.LittleEndian.Uint64(rest[24:]))
		k.Ctime = int64(binary.LittleEndian.Uint64(rest[32:]))
		e.used = binary.LittleEndian.Uint64(rest[40:])
		copy(e.sum[:], rest[48:entrySize])
		rest = rest[entrySize:]
		if e.used > clock {
			return 0, nil, fmt.Errorf("%w: entry used at %d after clock %d", errCorrupt, e.used, clock)
		}
		entries[k] = e
	}
	return clock, entries, nil
}
