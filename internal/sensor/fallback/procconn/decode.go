package procconn

import (
	"encoding/binary"
	"fmt"
)

// The connector and proc-event constants of linux/connector.h and
// linux/cn_proc.h (x/sys/unix does not carry them).
const (
	cnIdxProc = 1 // CN_IDX_PROC, also the multicast group
	cnValProc = 1 // CN_VAL_PROC

	procCnMcastListen = 1 // PROC_CN_MCAST_LISTEN
	procCnMcastIgnore = 2 // PROC_CN_MCAST_IGNORE

	cnMsgLen = 20 // struct cn_msg without data

	// What values of struct proc_event.
	WhatNone     = 0x00000000
	WhatFork     = 0x00000001
	WhatExec     = 0x00000002
	WhatUID      = 0x00000004
	WhatGID      = 0x00000040
	WhatSID      = 0x00000080
	WhatPtrace   = 0x00000100
	WhatComm     = 0x00000200
	WhatCoredump = 0x40000000
	WhatExit     = 0x80000000
)

// Message is one decoded struct proc_event. Which fields are set depends on
// What; for a fork, PID/TGID are the child's.
type Message struct {
	What      uint32
	CPU       uint32
	Timestamp uint64 // ns since boot, CLOCK_MONOTONIC (ktime_get_ns)

	PID, TGID             int // the process (the child of a fork)
	ParentPID, ParentTGID int // fork, exit

	// ExitCode is the raw wait status of an exit (exit_code), ExitSignal
	// the signal sent to the parent.
	ExitCode, ExitSignal uint32
	// Real and effective uid (WhatUID) or gid (WhatGID).
	Real, Effective uint32
	// Ack is the error code of an acknowledgement (WhatNone).
	Ack uint32
}

// Decode decodes the payload of one netlink message from the proc
// connector: a struct cn_msg followed by a struct proc_event.
func Decode(b []byte) (Message, error) {
	var m Message
	if len(b) < cnMsgLen {
		return m, fmt.Errorf("cn_msg: %d bytes, want at least %d", len(b), cnMsgLen)
	}
	idx, val := ne.Uint32(b[0:]), ne.Uint32(b[4:])
	if idx != cnIdxProc || val != cnValProc {
		return m, fmt.Errorf("cn_msg: id %d:%d, want proc connector %d:%d", idx, val, cnIdxProc, cnValProc)
	}
	n := int(ne.Uint16(b[16:]))
	if n > len(b)-cnMsgLen {
		return m, fmt.Errorf("cn_msg: data length %d exceeds the %d bytes received", n, len(b)-cnMsgLen)
	}
	ev := b[cnMsgLen : cnMsgLen+n]
	const head = 16 // what, cpu, timestamp_ns
	if len(ev) < head {
		return m, fmt.Errorf("proc_event: %d bytes, want at least %d", len(ev), head)
	}
	m.What, m.CPU, m.Timestamp = ne.Uint32(ev[0:]), ne.Uint32(ev[4:]), ne.Uint64(ev[8:])
	data := ev[head:]
	need := 0
	switch m.What {
	case WhatNone:
		need = 4
	case WhatFork, WhatUID, WhatGID:
		need = 16
	case WhatExec:
		need = 8
	case WhatExit:
		// exit_code, exit_signal, then (since Linux 4.18) the parent.
		need = 16
	default:
		return m, nil // other kinds are not decoded further
	}
	if len(data) < need {
		return m, fmt.Errorf("proc_event 0x%x: %d data bytes, want at least %d", m.What, len(data), need)
	}
	u := func(i int) uint32 { return ne.Uint32(data[4*i:]) }
	switch m.What {
	case WhatNone:
		m.Ack = u(0)
	case WhatFork:
		m.ParentPID, m.ParentTGID, m.PID, m.TGID = int(u(0)), int(u(1)), int(u(2)), int(u(3))
	case WhatExec:
		m.PID, m.TGID = int(u(0)), int(u(1))
	case WhatUID, WhatGID:
		m.PID, m.TGID, m.Real, m.Effective = int(u(0)), int(u(1)), u(2), u(3)
	case WhatExit:
		m.PID, m.TGID, m.ExitCode, m.ExitSignal = int(u(0)), int(u(1)), u(2), u(3)
		if len(data) >= 24 {
			m.ParentPID, m.ParentTGID = int(u(4)), int(u(5))
		}
	}
	return m, nil
}

// ne is the host byte order: the connector speaks it.
var ne = binary.NativeEndian

// listenRequest is the cn_msg payload that subscribes (or, with
// procCnMcastIgnore, unsubscribes) a socket to proc events.
func listenRequest(op uint32) []byte {
	b := make([]byte, cnMsgLen+4)
	ne.PutUint32(b[0:], cnIdxProc)
	ne.PutUint32(b[4:], cnValProc)
	ne.PutUint16(b[16:], 4)
	ne.PutUint32(b[cnMsgLen:], op)
	return b
}

// ExitStatus turns a raw wait status into the number a shell shows: the
// exit code of a normal exit, 128+N for death by signal N.
func ExitStatus(status uint32) int {
	if sig := status & 0x7f; sig != 0 {
		return 128 + int(sig)
	}
	return int(status>>8) & 0xff
}
