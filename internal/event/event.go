// Package event holds the typed runtime events that sensors produce, the
// enrichment fills in and the detection engine judges.
//
// The JSON names of these types are the field names rules use in their CEL
// conditions and test events (proc.exe, file.path, net.dst_ip, …), so they
// are a contract: extend them, never rename them.
package event

import (
	"time"
)

// Kind is what happened. Rules are indexed by kind.
type Kind string

// The kinds sensors emit.
const (
	Exec     Kind = "exec"      // a process image was replaced (execve/execveat)
	Fork     Kind = "fork"      // a new process (not a thread) was created
	Exit     Kind = "exit"      // a process (its thread-group leader) ended
	File     Kind = "file"      // an action on a watched path; see FileOp
	Connect  Kind = "connect"   // an outbound connect (TCP or UDP)
	Accept   Kind = "accept"    // an inbound TCP connection was accepted
	Listen   Kind = "listen"    // a socket started listening
	TCPState Kind = "tcp_state" // a TCP socket changed state
	SetID    Kind = "setid"     // setuid/setgid family changed credentials
	Capset   Kind = "capset"    // capabilities were changed
	Ptrace   Kind = "ptrace"    // ptrace attach/seize/poke on another process
	Module   Kind = "module"    // init_module/finit_module
	Memfd    Kind = "memfd"     // memfd_create
	Auth     Kind = "auth"      // an authentication event from a log source
)

// Kinds lists every kind, for validation.
var Kinds = []Kind{Exec, Fork, Exit, File, Connect, Accept, Listen, TCPState, SetID, Capset, Ptrace, Module, Memfd, Auth}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, v := range Kinds {
		if v == k {
			return true
		}
	}
	return false
}

// FileOp is the action of a File event.
type FileOp string

// The file actions.
const (
	OpCreate    FileOp = "create"     // a file was created (O_CREAT of a new file, mknod, link target)
	OpOpenWrite FileOp = "open_write" // an existing file was opened for writing
	OpOpenRead  FileOp = "open_read"  // a read-watched file (e.g. /etc/shadow) was opened for reading
	OpRename    FileOp = "rename"     // path was renamed to new_path
	OpUnlink    FileOp = "unlink"     // path was removed
	OpChmod     FileOp = "chmod"
	OpChown     FileOp = "chown"
	OpTruncate  FileOp = "truncate" // truncate/ftruncate, or O_TRUNC on open
	OpLink      FileOp = "link"     // a hard or symbolic link new_path → path
)

// Event is one runtime event. Only the part matching Kind is set among File,
// Net, Cred, Target, Module and Memfd.
type Event struct {
	// Seq is the sensor's sequence number, unique per agent run; replay and
	// tests may leave it zero.
	Seq    uint64    `json:"seq,omitempty"`
	Kind   Kind      `json:"kind"`
	Time   time.Time `json:"time"`
	Source string    `json:"source,omitempty"` // "ebpf", "proc_connector", "fanotify", "sock_diag", "replay", "test"
	// Host is filled in by the agent.
	Host string `json:"host,omitempty"`

	Process   Process    `json:"proc"`
	Parent    *Process   `json:"parent,omitempty"` // the direct parent, with its own ancestors cleared
	Container *Container `json:"container,omitempty"`

	File   *FileInfo  `json:"file,omitempty"`
	Net    *Network   `json:"net,omitempty"`
	Cred   *CredInfo  `json:"cred,omitempty"`   // SetID, Capset
	Target *Process   `json:"target,omitempty"` // Ptrace: the traced process
	Ptrace *PtraceOp  `json:"ptrace,omitempty"`
	Module *ModInfo   `json:"module,omitempty"`
	Memfd  *MemfdInfo `json:"memfd,omitempty"`
	Auth   *AuthInfo  `json:"auth,omitempty"`

	// Blocked is set on an Exec event when the sensor killed the process
	// at exec because its executable is on the deny list.
	Blocked bool `json:"blocked,omitempty"`

	// Done, when set, is called once the agent has judged the event and
	// written its alerts: a log source commits its read position then, so
	// a crash re-reads rather than loses. Never serialised.
	Done func() `json:"-"`
}

// Process is a process as the enrichment knows it at the time of the event.
type Process struct {
	PID  int `json:"pid"`
	TID  int `json:"tid,omitempty"`
	PPID int `json:"ppid,omitempty"`
	// ExecID identifies this process image: boot ID + start time + PID. See
	// ExecID().
	ExecID       string `json:"exec_id,omitempty"`
	ParentExecID string `json:"parent_exec_id,omitempty"`

	Exe     string   `json:"exe,omitempty"`     // absolute path of the executable (as the kernel resolved it)
	Name    string   `json:"name,omitempty"`    // comm, as the kernel has it (≤ 15 bytes, attacker-controlled)
	Args    []string `json:"args,omitempty"`    // argv, argv[0] included
	Cmdline string   `json:"cmdline,omitempty"` // argv joined by single spaces

	// ArgsTruncated is set when argv was longer than the sensor reads
	// (about 4 KiB or 64 arguments): Args and Cmdline hold its beginning.
	ArgsTruncated bool `json:"args_truncated,omitempty"`

	CWD string `json:"cwd,omitempty"`
	TTY string `json:"tty,omitempty"` // e.g. "pts/3"; empty when none

	UID      uint32 `json:"uid"`
	EUID     uint32 `json:"euid"`
	GID      uint32 `json:"gid"`
	EGID     uint32 `json:"egid"`
	AUID     uint32 `json:"auid"` // login UID; 4294967295 when unset
	User     string `json:"user,omitempty"`
	EUser    string `json:"euser,omitempty"`
	CgroupID uint64 `json:"cgroup_id,omitempty"`

	// ContainerID is the full 64-hex ID when the process runs in a container.
	ContainerID string `json:"container_id,omitempty"`
	// StartTime is the process start in clock ticks (USER_HZ, 100/s) since
	// boot: field 22 of /proc/PID/stat, or the kernel's start_boottime / 10^7
	// in eBPF. It is the second part of the exec ID, in these units so a
	// process seen by eBPF and one seeded from /proc get the same ID.
	StartTime uint64 `json:"start_time,omitempty"`

	ExeHash    string `json:"exe_hash,omitempty"`    // SHA-256, hex; empty until hashed
	ExeDeleted bool   `json:"exe_deleted,omitempty"` // the executable's file is unlinked
	ExeMemfd   bool   `json:"exe_memfd,omitempty"`   // the executable is a memfd (fileless)
	// ExeInode/ExeDev identify the executable file.
	ExeDev   uint64 `json:"exe_dev,omitempty"`
	ExeInode uint64 `json:"exe_inode,omitempty"`
	// ExeCtime is the executable's inode change time (ns since epoch), so a
	// rule can tell a freshly written binary.
	ExeCtime int64 `json:"exe_ctime,omitempty"`

	// Stdin/Stdout/Stderr are the types of fds 0–2 at exec: "socket" (a
	// network socket), "unix" (a Unix-domain socket: a socketpair or a
	// journald stream), "pipe", "tty", "file", "null", "other" or "" when
	// closed/unknown.
	Stdin  string `json:"stdin,omitempty"`
	Stdout string `json:"stdout,omitempty"`
	Stderr string `json:"stderr,omitempty"`

	// NS carries namespace inode numbers; a process sharing the host's
	// namespace has the host's number.
	PIDNS   uint32 `json:"pid_ns,omitempty"`
	MntNS   uint32 `json:"mnt_ns,omitempty"`
	NetNS   uint32 `json:"net_ns,omitempty"`
	HostPID bool   `json:"host_pid_ns,omitempty"` // in the host PID namespace
	HostNet bool   `json:"host_net_ns,omitempty"` // in the host network namespace
	HostMnt bool   `json:"host_mnt_ns,omitempty"` // in the host mount namespace
	// CapEff is the effective capability mask.
	CapEff uint64 `json:"cap_eff,omitempty"`

	// Ancestors are parent, grandparent, … as far as known (bounded).
	Ancestors []Ancestor `json:"ancestors,omitempty"`
	// ExitCode is set on Exit events.
	ExitCode int `json:"exit_code,omitempty"`
}

// Ancestor is a short view of an ancestor process.
type Ancestor struct {
	PID     int    `json:"pid"`
	ExecID  string `json:"exec_id,omitempty"`
	Exe     string `json:"exe,omitempty"`
	Name    string `json:"name,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	User    string `json:"user,omitempty"`
	UID     uint32 `json:"uid"`
}

// Container describes the container a process runs in.
type Container struct {
	ID      string `json:"id"`
	Name    string `json:"name,omitempty"`
	Image   string `json:"image,omitempty"`
	Runtime string `json:"runtime,omitempty"` // "docker", "containerd", "podman", …
	// Privileged and the host-namespace flags come from the engine's view of
	// the container (inspect), not from the process.
	Privileged bool     `json:"privileged,omitempty"`
	HostPID    bool     `json:"host_pid,omitempty"`
	HostNet    bool     `json:"host_network,omitempty"`
	HostIPC    bool     `json:"host_ipc,omitempty"`
	CapAdd     []string `json:"cap_add,omitempty"`
	// Mounts are host paths mounted into the container.
	Mounts []string `json:"mounts,omitempty"`
}

// FileInfo is the object of a File event.
type FileInfo struct {
	Op      FileOp `json:"op"`
	Path    string `json:"path"`
	NewPath string `json:"new_path,omitempty"` // rename/link destination
	Mode    uint32 `json:"mode,omitempty"`     // new mode (chmod) or the file's mode
	UID     uint32 `json:"uid,omitempty"`      // new owner (chown)
	GID     uint32 `json:"gid,omitempty"`
	Flags   uint32 `json:"flags,omitempty"` // open flags
	Dev     uint64 `json:"dev,omitempty"`
	Inode   uint64 `json:"inode,omitempty"`
}

// Network is the object of a Connect, Accept, Listen or TCPState event.
type Network struct {
	Family   string `json:"family"`   // "ipv4", "ipv6", "unix"
	Protocol string `json:"protocol"` // "tcp", "udp"
	SrcIP    string `json:"src_ip,omitempty"`
	SrcPort  int    `json:"src_port,omitempty"`
	DstIP    string `json:"dst_ip,omitempty"`
	DstPort  int    `json:"dst_port,omitempty"`
	// Internal is set by the enrichment when DstIP (for Accept: SrcIP) is
	// in the configured internal networks.
	Internal bool `json:"internal,omitempty"`
	// Loopback is set when the remote address is a loopback address.
	Loopback bool `json:"loopback,omitempty"`
	// OldState/NewState are TCP state names for TCPState ("SYN_SENT", "ESTABLISHED", …).
	OldState string `json:"old_state,omitempty"`
	NewState string `json:"new_state,omitempty"`
	// Result is the connect result as an errno name ("" for success or
	// unknown; "EINPROGRESS" for a non-blocking connect).
	Result string `json:"result,omitempty"`
}

// CredInfo is the object of SetID and Capset events: credentials before
// and after.
type CredInfo struct {
	Syscall   string `json:"syscall"` // "setuid", "setresuid", "setgid", "capset", …
	OldUID    uint32 `json:"old_uid"`
	NewUID    uint32 `json:"new_uid"`
	OldEUID   uint32 `json:"old_euid"`
	NewEUID   uint32 `json:"new_euid"`
	OldGID    uint32 `json:"old_gid"`
	NewGID    uint32 `json:"new_gid"`
	OldEGID   uint32 `json:"old_egid"`
	NewEGID   uint32 `json:"new_egid"`
	OldFSUID  uint32 `json:"old_fsuid"`
	NewFSUID  uint32 `json:"new_fsuid"`
	OldFSGID  uint32 `json:"old_fsgid"`
	NewFSGID  uint32 `json:"new_fsgid"`
	OldCapEff uint64 `json:"old_cap_eff,omitempty"`
	NewCapEff uint64 `json:"new_cap_eff,omitempty"`
}

// PtraceOp is the request of a Ptrace event.
type PtraceOp struct {
	Request string `json:"request"` // "PTRACE_ATTACH", "PTRACE_SEIZE", "PTRACE_POKETEXT", …
}

// ModInfo is the object of a Module event.
type ModInfo struct {
	Name    string `json:"name,omitempty"` // module name, when known
	Syscall string `json:"syscall"`        // "init_module" or "finit_module"
	Path    string `json:"path,omitempty"` // the file of finit_module, when known
}

// MemfdInfo is the object of a Memfd event.
type MemfdInfo struct {
	Name  string `json:"name"`
	Flags uint32 `json:"flags"`
}

// AuthInfo is the object of an Auth event (log sources, issue 5).
type AuthInfo struct {
	Service string `json:"service"` // "sshd", "su", "sudo", "login"
	Outcome string `json:"outcome"` // "success", "failure"
	Method  string `json:"method,omitempty"`
	User    string `json:"user,omitempty"`
	SrcIP   string `json:"src_ip,omitempty"`
	SrcPort int    `json:"src_port,omitempty"`
	Invalid bool   `json:"invalid_user,omitempty"`
	Message string `json:"message,omitempty"`
	// Detail is the log record's own kind: "failure", "invalid_user",
	// "max_attempts", "preauth_disconnect", "success", "session_open",
	// "session_close" (authlog.Kind).
	Detail string `json:"detail,omitempty"`
	// Count is how many attempts the record stands for (PAM's "N more
	// authentication failures"); 0 reads as 1.
	Count int `json:"count,omitempty"`
	// TTY is the terminal of su, sudo and login records.
	TTY string `json:"tty,omitempty"`
	// ByUser is the account that ran su or sudo.
	ByUser string `json:"by_user,omitempty"`
}
