//go:build ignore

// SPDX-License-Identifier: GPL-2.0
// The process sensor: exec, fork, exit, credential changes, ptrace, module
// loads and memfd_create, delivered through one ring buffer, plus
// kill-on-exec for blocked executables.
//
// The scheduler hooks come in three flavours (tp_btf, raw_tp, tracepoint);
// user space loads the best one the kernel accepts. All three call the same
// handlers, which read the task with CO-RE, so the flavours differ only in
// how they get the task pointer.

#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "bpf_tracing.h"

char LICENSE[] SEC("license") = "GPL";

#define DATA_MAX 8192      // variable data (exe and cwd components, argv) per event
#define DATA_SLACK 4096    // room after DATA_MAX so masked writes stay in bounds
#define ARGS_MAX 4096      // argv bytes read
#define NAME_LEN 256       // one path component, NUL included
#define MAX_COMPONENTS 64  // path depth walked
#define SIGKILL 9

enum kind {
	K_EXEC = 1,
	K_FORK,
	K_EXIT,
	K_SETID,
	K_CAPSET,
	K_PTRACE,
	K_MODULE,
	K_MEMFD,
};

enum flag {
	F_TRUNC_ARGS = 1 << 0,
	F_TRUNC_EXE = 1 << 1,
	F_TRUNC_CWD = 1 << 2,
	F_BLOCKED = 1 << 3,
	F_NO_CHILD = 1 << 4, // fork seen without the child task (classic tracepoint)
	F_TRUNC_PATH = 1 << 5,
};

enum sc {
	SC_SETUID = 1,
	SC_SETGID,
	SC_SETREUID,
	SC_SETREGID,
	SC_SETRESUID,
	SC_SETRESGID,
	SC_SETFSUID,
	SC_SETFSGID,
	SC_CAPSET,
	SC_INIT_MODULE,
	SC_FINIT_MODULE,
};

// event is the fixed header of every record. Exec records carry exe_len
// bytes of exe path components (leaf first, each NUL-terminated), then
// cwd_len bytes of cwd components, then args_len bytes of argv; module
// records carry the finit_module file's components in the exe slot.
struct pevent {
	u8 kind;
	u8 flags;
	u16 exe_len;
	u16 cwd_len;
	u16 args_len;
	u32 pid;
	u32 tid;
	u32 ppid;
	u32 uid;
	u32 euid;
	u32 gid;
	u32 egid;
	u32 fsuid;
	u32 fsgid;
	u32 auid;
	u32 pidns;
	u32 mntns;
	u32 netns;
	u32 host_pidns;
	u32 host_mntns;
	u32 host_netns;
	u32 syscall;
	u64 ktime;        // bpf_ktime_get_boot_ns at the event
	u64 start_time;   // process start, ns since boot
	u64 parent_start; // parent process start, ns since boot
	u64 cgroup_id;
	u64 cap_eff;
	u64 exe_dev; // userspace st_dev encoding
	u64 exe_ino;
	s64 exe_ctime_sec;
	u32 exe_ctime_nsec;
	u32 exe_nlink;
	u32 exe_magic;
	u32 tty_major;
	u32 tty_index;
	u32 fd_mode[3];
	u32 fd_rdev[3];
	s32 ret;
	u32 old_uid;
	u32 old_euid;
	u32 old_gid;
	u32 old_egid;
	u32 old_fsuid;
	u32 old_fsgid;
	u32 target_pid;
	u64 old_cap_eff;
	s64 arg; // ptrace request, memfd flags, exit status
	char comm[16];
	char tty_name[16];
	char name[256]; // memfd name
	char cgroup[80]; // leaf name of the cgroup v2 (default hierarchy) cgroup: the container ID for runtimes
};

struct precord {
	struct pevent e;
	char data[DATA_MAX + DATA_SLACK];
};

struct pblk_key {
	u64 dev;
	u64 ino;
};

struct pcreds {
	u32 uid, euid, gid, egid, fsuid, fsgid;
	u64 cap_eff;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); // user space sets the configured size
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct precord);
} scratch SEC(".maps");

// drops counts records the ring buffer refused, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct pblk_key);
	__type(value, u8);
} blocked SEC(".maps");

// saved holds credentials between sys_enter and sys_exit of a setid or
// capset call, keyed by pid_tgid.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct pcreds);
} saved SEC(".maps");

// wakeup_bytes: records are submitted without waking the reader until the
// buffer holds more than this; the reader polls on its own meanwhile.
const volatile u64 wakeup_bytes = 1 << 20;

u32 host_ns_set;
u32 host_ns[3];

// bound masks v with DATA_MAX-1 in a way the compiler cannot drop, so the
// verifier sees the bound even where an earlier check made it redundant.
static __always_inline u32 bound(u32 v)
{
	asm volatile("%[v] &= %[m]" : [v] "+r"(v) : [m] "i"(DATA_MAX - 1));
	return v;
}

static __always_inline u64 encode_dev(u32 kdev)
{
	u64 major = kdev >> 20, minor = kdev & 0xfffff;
	return (minor & 0xff) | (major << 8) | ((minor & ~0xffULL) << 12);
}

// last_wake is when a record last woke the reader. A record wakes it when
// the buffer is filling (wakeup_bytes) or when no record has for
// wakeup_gap_ns: an isolated event is delivered at once, a storm costs at
// most one wakeup per gap, and an idle host none. Records in between are
// picked up by the reader's short polls after each wakeup.
u64 last_wake;
const volatile u64 wakeup_gap_ns = 5000000;

static __always_inline void submit(void *data, u64 size)
{
	u64 flags = BPF_RB_NO_WAKEUP;
	u64 now = bpf_ktime_get_boot_ns();
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size > wakeup_bytes || now - last_wake > wakeup_gap_ns) {
		flags = BPF_RB_FORCE_WAKEUP;
		last_wake = now;
	}
	if (bpf_ringbuf_output(&events, data, size, flags) != 0) {
		u32 zero = 0;
		u64 *n = bpf_map_lookup_elem(&drops, &zero);
		if (n)
			*n += 1;
	}
}

// fill_host_ns reports the namespaces of init_task, found once by
// following real_parent to the task that is its own parent.
static __always_inline void fill_host_ns(struct pevent *e, struct task_struct *t)
{
	if (!host_ns_set) {
		int i;
		for (i = 0; i < 256; i++) {
			struct task_struct *p = BPF_CORE_READ(t, real_parent);
			if (!p || p == t)
				break;
			t = p;
		}
		if (BPF_CORE_READ(t, pid) != 0)
			return;
		host_ns[0] = BPF_CORE_READ(t, nsproxy, pid_ns_for_children, ns.inum);
		host_ns[1] = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
		host_ns[2] = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
		host_ns_set = 1;
	}
	e->host_pidns = host_ns[0];
	e->host_mntns = host_ns[1];
	e->host_netns = host_ns[2];
}

static __always_inline void read_creds(struct task_struct *t, struct pcreds *c)
{
	const struct cred *cr = BPF_CORE_READ(t, real_cred);
	c->uid = BPF_CORE_READ(cr, uid.val);
	c->euid = BPF_CORE_READ(cr, euid.val);
	c->gid = BPF_CORE_READ(cr, gid.val);
	c->egid = BPF_CORE_READ(cr, egid.val);
	c->fsuid = BPF_CORE_READ(cr, fsuid.val);
	c->fsgid = BPF_CORE_READ(cr, fsgid.val);
	c->cap_eff = BPF_CORE_READ(cr, cap_effective.val);
}

static __always_inline u32 pidns_inum(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	return BPF_CORE_READ(p, numbers[level].ns, ns.inum);
}

// fill_task fills the identity of task t (the process it belongs to) and,
// when t is current, its cgroup.
static __always_inline void fill_task(struct pevent *e, struct task_struct *t, bool current)
{
	struct task_struct *leader = BPF_CORE_READ(t, group_leader);
	struct task_struct *parent = BPF_CORE_READ(t, real_parent);
	struct pcreds c;

	e->ktime = bpf_ktime_get_boot_ns();
	e->pid = BPF_CORE_READ(t, tgid);
	e->tid = BPF_CORE_READ(t, pid);
	e->ppid = BPF_CORE_READ(parent, tgid);
	e->start_time = BPF_CORE_READ(leader, start_boottime);
	e->parent_start = BPF_CORE_READ(parent, group_leader, start_boottime);
	read_creds(t, &c);
	e->uid = c.uid;
	e->euid = c.euid;
	e->gid = c.gid;
	e->egid = c.egid;
	e->fsuid = c.fsuid;
	e->fsgid = c.fsgid;
	e->cap_eff = c.cap_eff;
	if (bpf_core_field_exists(t->loginuid))
		e->auid = BPF_CORE_READ(t, loginuid.val);
	else
		e->auid = (u32)-1;
	e->pidns = pidns_inum(t);
	e->mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	e->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
	fill_host_ns(e, t);
	if (current) {
		e->cgroup_id = bpf_get_current_cgroup_id();
		// Read in the kernel, so a process that is gone before user space
		// sees its event still names its container.
		const char *cg = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, name);
		if (cg)
			bpf_probe_read_kernel_str(e->cgroup, sizeof(e->cgroup), cg);
	}
	bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), BPF_CORE_READ(t, comm));

	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	if (exe) {
		struct inode *ino = BPF_CORE_READ(exe, f_inode);
		e->exe_dev = encode_dev(BPF_CORE_READ(ino, i_sb, s_dev));
		e->exe_ino = BPF_CORE_READ(ino, i_ino);
	}
}

struct vg_walk {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct mount *mnt;
	u64 mnt_off;
	u32 off;
	u8 flags;
	u8 done;
};

// walk_step handles one dentry of a path walk (a bpf_loop callback, so the
// verifier checks it once rather than once per iteration).
static long walk_step(u32 i, void *arg)
{
	struct vg_walk *w = arg;
	u32 zero = 0;
	struct precord *r = bpf_map_lookup_elem(&scratch, &zero);

	struct dentry *dentry = w->dentry;
	struct vfsmount *vfsmnt = w->vfsmnt;
	struct mount *mnt = w->mnt;

	if (!r)
		goto done;
	// Locals, not w->…: inside BPF_CORE_READ, w's own fields would get
	// CO-RE relocations against a kernel type that does not exist.
	struct dentry *root = BPF_CORE_READ(vfsmnt, mnt_root);
	struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
	if (dentry == root) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		if (up == mnt || !up)
			goto done;
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->vfsmnt = (void *)up + w->mnt_off;
		return 0;
	}
	if (w->off > DATA_MAX - NAME_LEN)
		return 1; // not done: truncated
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
	long n = bpf_probe_read_kernel_str(&r->data[bound(w->off)], NAME_LEN, name);
	if (n <= 0)
		goto done;
	w->off += n;
	if (dentry == parent) // a pseudo file (memfd, pipe): its own root
		goto done;
	w->dentry = parent;
	return 0;
done:
	w->done = 1;
	return 1;
}

// walk_path writes the components of dentry/vfsmnt, leaf first, each
// NUL-terminated, at the scratch record's data[off]. It crosses mount
// points up to the root of the mount namespace and returns the bytes
// written; a path too deep or too long sets trunc in *flags.
static __always_inline u32 walk_path(struct dentry *dentry, struct vfsmount *vfsmnt, u32 off, u8 *flags, u8 trunc)
{
	struct vg_walk w = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt_off = bpf_core_field_offset(struct mount, mnt),
		.off = off,
	};

	w.mnt = (void *)vfsmnt - w.mnt_off;
	bpf_loop(MAX_COMPONENTS, walk_step, &w, 0);
	if (!w.done)
		*flags |= trunc;
	return w.off - off;
}

static __always_inline struct file *fd_file(struct task_struct *t, u32 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xffff]);
	return f;
}

static __always_inline struct precord *scratch_record(void)
{
	u32 zero = 0;
	struct precord *r = bpf_map_lookup_elem(&scratch, &zero);
	if (!r)
		return NULL;
	__builtin_memset(&r->e, 0, sizeof(r->e));
	return r;
}

static __always_inline u64 record_size(u32 off)
{
	u64 size = sizeof(struct pevent) + (off & (DATA_MAX * 2 - 1));
	if (size > sizeof(struct precord))
		size = sizeof(struct precord);
	return size;
}

static __always_inline int handle_exec(struct task_struct *t)
{
	struct precord *r = scratch_record();
	struct pevent *e;
	u32 off = 0, n;
	int i;

	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_EXEC;
	fill_task(e, t, true);

	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	if (exe) {
		struct inode *ino = BPF_CORE_READ(exe, f_inode);
		struct pblk_key key = {.dev = e->exe_dev, .ino = e->exe_ino};

		if (bpf_map_lookup_elem(&blocked, &key)) {
			bpf_send_signal(SIGKILL);
			e->flags |= F_BLOCKED;
		}
		if (bpf_core_field_exists(ino->i_ctime_sec)) {
			e->exe_ctime_sec = BPF_CORE_READ(ino, i_ctime_sec);
			e->exe_ctime_nsec = BPF_CORE_READ(ino, i_ctime_nsec);
		}
		e->exe_nlink = BPF_CORE_READ(ino, __i_nlink);
		e->exe_magic = BPF_CORE_READ(ino, i_sb, s_magic);
		n = walk_path(BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt), off,
			      &e->flags, F_TRUNC_EXE);
		e->exe_len = n;
		off += n;
	}

	struct fs_struct *fs = BPF_CORE_READ(t, fs);
	if (fs) {
		n = walk_path(BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), off, &e->flags,
			      F_TRUNC_CWD);
		e->cwd_len = n;
		off += n;
	}

	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (tty) {
		e->tty_major = BPF_CORE_READ(tty, driver, major);
		e->tty_index = BPF_CORE_READ(tty, index);
		bpf_probe_read_kernel_str(e->tty_name, sizeof(e->tty_name), &tty->name);
	}

	for (i = 0; i < 3; i++) {
		struct file *f = fd_file(t, i);
		if (f) {
			struct inode *ino = BPF_CORE_READ(f, f_inode);
			u32 mode = BPF_CORE_READ(ino, i_mode);
			e->fd_mode[i] = mode;
			if ((mode & 0170000) == 0140000) {
				/* A socket has no device number: its address
				 * family goes in its place, so a Unix socketpair
				 * (a process manager's stdio) is told from a
				 * network socket (a reverse shell's). */
				struct socket *sock = (struct socket *)BPF_CORE_READ(f, private_data);
				e->fd_rdev[i] = sock ? BPF_CORE_READ(sock, sk, __sk_common.skc_family) : 0;
			} else {
				e->fd_rdev[i] = BPF_CORE_READ(ino, i_rdev);
			}
		}
	}

	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	u64 as = BPF_CORE_READ(mm, arg_start), ae = BPF_CORE_READ(mm, arg_end);
	if (ae > as && off < DATA_MAX) {
		u64 size = ae - as;
		if (size > ARGS_MAX - 1) {
			size = ARGS_MAX - 1;
			e->flags |= F_TRUNC_ARGS;
		}
		if (size > DATA_MAX - off) {
			size = DATA_MAX - off;
			e->flags |= F_TRUNC_ARGS;
		}
		size &= ARGS_MAX - 1; // for the verifier: at most ARGS_MAX-1 bytes
		if (bpf_probe_read_user(&r->data[bound(off)], size, (void *)as) == 0) {
			e->args_len = size;
			off += size;
		}
	}

	submit(r, record_size(off));
	return 0;
}

static __always_inline int handle_fork(struct task_struct *parent, struct task_struct *child)
{
	struct precord *r;
	struct pevent *e;

	if (child) {
		if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
			return 0; // a thread
	}
	r = scratch_record();
	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_FORK;
	if (child) {
		fill_task(e, child, false);
		e->cgroup_id = bpf_get_current_cgroup_id();
	} else {
		// Without the child: the event describes the parent; user
		// space reads the child from /proc.
		fill_task(e, parent, true);
		e->flags |= F_NO_CHILD;
	}
	submit(e, sizeof(*e));
	return 0;
}

static __always_inline int handle_exit(struct task_struct *t)
{
	struct precord *r;
	struct pevent *e;

	if (BPF_CORE_READ(t, signal, live.counter) != 0)
		return 0; // other threads remain
	r = scratch_record();
	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_EXIT;
	fill_task(e, t, true);
	e->pid = BPF_CORE_READ(t, tgid);
	e->arg = BPF_CORE_READ(t, exit_code);
	submit(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(p);
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(p);
}

SEC("tracepoint/sched/sched_process_exec")
int exec_tp(void *ctx)
{
	return handle_exec((struct task_struct *)bpf_get_current_task());
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(fork_btf, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(parent, child);
}

SEC("raw_tp/sched_process_fork")
int BPF_PROG(fork_raw, struct task_struct *parent, struct task_struct *child)
{
	return handle_fork(parent, child);
}

SEC("tracepoint/sched/sched_process_fork")
int fork_tp(struct trace_event_raw_sched_process_fork *ctx)
{
	struct precord *r;
	struct pevent *e;

	r = scratch_record();
	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_FORK;
	fill_task(e, (struct task_struct *)bpf_get_current_task(), true);
	e->flags |= F_NO_CHILD;
	e->target_pid = ctx->child_pid;
	submit(e, sizeof(*e));
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_btf, struct task_struct *p)
{
	return handle_exit(p);
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(exit_raw, struct task_struct *p)
{
	return handle_exit(p);
}

SEC("tracepoint/sched/sched_process_exit")
int exit_tp(void *ctx)
{
	return handle_exit((struct task_struct *)bpf_get_current_task());
}

// Credentials: sys_enter saves them, sys_exit reports a change.

static __always_inline int cred_enter(void)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	u64 id = bpf_get_current_pid_tgid();
	struct pcreds c;

	read_creds(t, &c);
	bpf_map_update_elem(&saved, &id, &c, BPF_ANY);
	return 0;
}

static __always_inline int cred_exit(struct trace_event_raw_sys_exit *ctx, u32 sc)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	u64 id = bpf_get_current_pid_tgid();
	struct pcreds *old = bpf_map_lookup_elem(&saved, &id);
	struct pcreds now;
	struct precord *r;
	struct pevent *e;

	if (!old)
		return 0;
	read_creds(t, &now);
	bool ids = now.uid != old->uid || now.euid != old->euid || now.gid != old->gid || now.egid != old->egid ||
		   now.fsuid != old->fsuid || now.fsgid != old->fsgid;
	bool caps = now.cap_eff != old->cap_eff;
	if ((sc == SC_CAPSET && !caps) || (sc != SC_CAPSET && !ids)) {
		bpf_map_delete_elem(&saved, &id);
		return 0;
	}
	r = scratch_record();
	if (!r) {
		bpf_map_delete_elem(&saved, &id);
		return 0;
	}
	e = &r->e;
	e->kind = sc == SC_CAPSET ? K_CAPSET : K_SETID;
	e->syscall = sc;
	e->ret = ctx->ret;
	e->old_uid = old->uid;
	e->old_euid = old->euid;
	e->old_gid = old->gid;
	e->old_egid = old->egid;
	e->old_fsuid = old->fsuid;
	e->old_fsgid = old->fsgid;
	e->old_cap_eff = old->cap_eff;
	bpf_map_delete_elem(&saved, &id);
	fill_task(e, t, true);
	submit(e, sizeof(*e));
	return 0;
}

#define CRED_PROGS(name, sc)                                                   \
	SEC("tracepoint/syscalls/sys_enter_" #name)                            \
	int enter_##name(void *ctx) { return cred_enter(); }                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                             \
	int exit_##name(struct trace_event_raw_sys_exit *ctx) { return cred_exit(ctx, sc); }

CRED_PROGS(setuid, SC_SETUID)
CRED_PROGS(setgid, SC_SETGID)
CRED_PROGS(setreuid, SC_SETREUID)
CRED_PROGS(setregid, SC_SETREGID)
CRED_PROGS(setresuid, SC_SETRESUID)
CRED_PROGS(setresgid, SC_SETRESGID)
CRED_PROGS(setfsuid, SC_SETFSUID)
CRED_PROGS(setfsgid, SC_SETFSGID)
CRED_PROGS(capset, SC_CAPSET)

#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSR 6
#define PTRACE_SETREGS 13
#define PTRACE_ATTACH 16
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

SEC("tracepoint/syscalls/sys_enter_ptrace")
int enter_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	long req = ctx->args[0];
	struct precord *r;
	struct pevent *e;

	switch (req) {
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
	case PTRACE_POKEUSR:
	case PTRACE_SETREGS:
	case PTRACE_ATTACH:
	case PTRACE_SETREGSET:
	case PTRACE_SEIZE:
		break;
	default:
		return 0;
	}
	r = scratch_record();
	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_PTRACE;
	e->arg = req;
	e->target_pid = ctx->args[1];
	fill_task(e, (struct task_struct *)bpf_get_current_task(), true);
	submit(e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int enter_init_module(struct trace_event_raw_sys_enter *ctx)
{
	struct precord *r = scratch_record();
	struct pevent *e;

	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_MODULE;
	e->syscall = SC_INIT_MODULE;
	e->arg = ctx->args[1]; // image length
	fill_task(e, (struct task_struct *)bpf_get_current_task(), true);
	submit(e, sizeof(*e));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int enter_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct precord *r = scratch_record();
	struct pevent *e;
	struct file *f;
	u32 n;

	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_MODULE;
	e->syscall = SC_FINIT_MODULE;
	e->arg = (int)ctx->args[0]; // fd
	fill_task(e, t, true);
	f = fd_file(t, (u32)ctx->args[0]);
	n = 0;
	if (f) {
		n = walk_path(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), 0, &e->flags,
			      F_TRUNC_PATH);
		e->exe_len = n;
	}
	submit(r, record_size(n));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_memfd_create")
int enter_memfd_create(struct trace_event_raw_sys_enter *ctx)
{
	struct precord *r = scratch_record();
	struct pevent *e;

	if (!r)
		return 0;
	e = &r->e;
	e->kind = K_MEMFD;
	e->arg = ctx->args[1];
	bpf_probe_read_user_str(e->name, sizeof(e->name), (void *)ctx->args[0]);
	fill_task(e, (struct task_struct *)bpf_get_current_task(), true);
	submit(e, sizeof(*e));
	return 0;
}
