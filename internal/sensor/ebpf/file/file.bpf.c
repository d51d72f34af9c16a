//go:build ignore

/* File sensor: syscall tracepoints for the file actions that matter to
 * detection, resolved in the kernel to absolute, canonical paths and
 * filtered there against the watch lists (LPM tries keyed by path bytes),
 * so only watched paths cross to user space.
 *
 * Paths come from two places:
 *  - a struct file (the fd an open returned, or the fd of fchmod/fchown/
 *    ftruncate): its dentries are walked up to the root of the mount
 *    namespace, crossing mount points;
 *  - a name given to the syscall: when relative, the dirfd's (or cwd's)
 *    path is walked first; then the name's components are appended, with
 *    "." and ".." and repeated slashes resolved lexically.
 */
#include "common.h"

#define PB 512 /* path buffer; longer paths are truncated */
#define PMASK (PB - 1)
#define LPM_DATA 256 /* the kernel's limit on LPM trie key data */
#define WALK_STEPS 64 /* dentries plus mount crossings */
#define MAX_COMP 64 /* components of a name path */
#define NAME_KEY 32 /* basename key of the read prefilter */

#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define AT_FDCWD -100
#define FMODE_CREATED (1 << 20)

/* Kinds; mirrored in file.go. */
#define OP_OPEN 1 /* pending: decided at exit */
#define OP_CREATE 2
#define OP_OPEN_WRITE 3
#define OP_OPEN_READ 4
#define OP_RENAME 5
#define OP_UNLINK 6
#define OP_CHMOD 7
#define OP_CHOWN 8
#define OP_TRUNCATE 9
#define OP_LINK 10
#define OP_SYMLINK 11

#define TRUNC_PATH 1
#define TRUNC_NEW 2

struct file_rec {
	struct proc_hdr h;
	__u32 op;
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u16 path_len;
	__u16 new_len;
	__u64 dev; /* kernel encoding: major << 20 | minor */
	__u64 ino;
	__u32 trunc;
	/* path_bits and path form an LPM trie key: prefix length in bits,
	 * then the bytes. Likewise new_bits and new_path. */
	__u32 path_bits;
	char path[PB];
	__u32 new_bits;
	char new_path[PB];
};

struct lpm_key {
	__u32 prefixlen;
	char data[LPM_DATA];
};

/* watch is the value of a watch-list entry. */
struct watch {
	__u16 len;     /* bytes of the entry */
	__u8 exact;    /* matches only a path of exactly len bytes */
	__u8 covered;  /* exact, but a shorter prefix entry also covers it */
};

struct pend {
	__u32 op;
	__s32 dfd;  /* dirfd of name, or the fd of an fd-based call */
	__s32 dfd2; /* dirfd of name2 */
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 pad;
	__u64 name;  /* user pointer, 0 for fd-based calls */
	__u64 name2; /* rename/link destination, symlink's link path */
};

/* Cleaning state of the name joiner, kept in the scratch map so the
 * bpf_loop callback indexes map memory only. */
struct joiner {
	__u32 src; /* SRC_* */
	__u32 off;
	__u32 len;
	__u32 dst; /* 0: rec.path, 1: rec.new_path */
	__u32 o;
	__u32 depth;
	__u32 cstart;
	__u32 incomp;
	__u32 trunc;
	__u32 pad;
	__u16 stack[MAX_COMP];
};

#define SRC_BASE 0
#define SRC_NAME 1
#define SRC_NEW 2

/* State of a dentry walk (pointers kept as numbers: every read through
 * them is a probe read). */
struct walker {
	__u64 d;
	__u64 m;
	__u32 pos;
	__u32 done;
};

struct scratch {
	struct file_rec rec;
	struct joiner j;
	struct walker w;
	char base[2 * PB];
	char name[PB];
	char key[NAME_KEY];
};

struct settings {
	__u32 read_enabled;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct settings);
} file_settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct pend);
} pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, struct watch);
} write_watch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, struct watch);
} read_watch SEC(".maps");

/* Basenames of the read-watched files: a cheap first test on every
 * read-only open before its path is walked. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[NAME_KEY]);
	__type(value, __u8);
} read_names SEC(".maps");

const struct file_rec *unused_file_rec __attribute__((unused));
const struct lpm_key *unused_lpm_key __attribute__((unused));
const struct watch *unused_watch __attribute__((unused));
const struct settings *unused_settings __attribute__((unused));

static __always_inline struct scratch *get_scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/* walk_cb takes one step of a dentry walk: it prepends one name, or
 * crosses a mount point, or ends the walk (returns 1). */
static long walk_cb(__u32 i, void *unused)
{
	struct scratch *s = get_scratch();
	if (!s)
		return 1;
	struct walker *w = &s->w;
	struct dentry *d = (void *)w->d;
	struct mount *m = (void *)w->m;
	struct vfsmount *vm = (void *)m + bpf_core_field_offset(struct mount, mnt);
	struct dentry *root = BPF_CORE_READ(vm, mnt_root);
	struct dentry *parent = BPF_CORE_READ(d, d_parent);

	if (d == root || d == parent) {
		struct mount *mp = BPF_CORE_READ(m, mnt_parent);
		if (d != root || m == mp) {
			w->done = 1; /* the namespace's root */
			return 1;
		}
		w->d = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		w->m = (__u64)mp;
		return 0;
	}
	struct qstr q = BPF_CORE_READ(d, d_name);
	__u32 len = q.len;
	__u32 pos = w->pos;
	if (len + 1 >= pos)
		return 1;
	pos -= len;
	bpf_probe_read_kernel(s->base + (pos & PMASK), len & PMASK, q.name);
	pos -= 1;
	s->base[pos & PMASK] = '/';
	w->pos = pos;
	w->d = (__u64)parent;
	return 0;
}

/* walk writes the path of p backwards into s->base, ending at PB, and
 * returns where it starts (PB for the root), or -1 when it does not fit. */
static __always_inline int walk(struct scratch *s, struct path *p)
{
	struct vfsmount *vm = BPF_CORE_READ(p, mnt);

	s->w.d = (__u64)BPF_CORE_READ(p, dentry);
	s->w.m = (__u64)((void *)vm - bpf_core_field_offset(struct mount, mnt));
	s->w.pos = PB;
	s->w.done = 0;
	bpf_loop(WALK_STEPS, walk_cb, NULL, 0);
	if (!s->w.done)
		return -1;
	return s->w.pos & (2 * PB - 1);
}

/* copy_walk copies the walked path starting at pos into the record. */
static __always_inline void copy_walk(struct scratch *s, int pos)
{
	__u32 len = PB - pos;

	if (len == 0) {
		s->rec.path[0] = '/';
		len = 1;
	} else {
		bpf_probe_read_kernel(s->rec.path, len & PMASK, s->base + (pos & PMASK));
	}
	s->rec.path[len & PMASK] = 0;
	s->rec.path_len = len;
	s->rec.path_bits = (len > LPM_DATA ? LPM_DATA : len) * 8;
}

static __always_inline void pop(struct joiner *j)
{
	if (j->depth > 0) {
		j->depth--;
		j->o = j->stack[j->depth & (MAX_COMP - 1)];
	}
}

static long join_cb(__u32 i, void *unused)
{
	struct scratch *s = get_scratch();
	if (!s)
		return 1;
	struct joiner *j = &s->j;
	char *out = j->dst ? s->rec.new_path : s->rec.path;
	char c = '/';

	if (i < j->len) {
		__u32 k = j->off + i;
		if (j->src == SRC_BASE)
			c = s->base[k & (2 * PB - 1)];
		else if (j->src == SRC_NAME)
			c = s->name[k & PMASK];
		else
			c = s->rec.new_path[k & PMASK];
	}
	if (c == 0)
		c = '/';
	if (c == '/') {
		if (!j->incomp)
			return 0;
		j->incomp = 0;
		__u32 l = j->o - j->cstart;
		char c0 = out[j->cstart & PMASK];
		char c1 = out[(j->cstart + 1) & PMASK];
		if (l == 1 && c0 == '.') {
			pop(j);
		} else if (l == 2 && c0 == '.' && c1 == '.') {
			pop(j);
			pop(j);
		}
		return 0;
	}
	if (!j->incomp) {
		if (j->depth >= MAX_COMP || j->o >= PB - 2) {
			j->trunc = 1;
			return 1;
		}
		j->stack[j->depth & (MAX_COMP - 1)] = j->o;
		j->depth++;
		out[j->o & PMASK] = '/';
		j->o++;
		j->cstart = j->o;
		j->incomp = 1;
	}
	if (j->o >= PB - 1) {
		j->trunc = 1;
		return 1;
	}
	out[j->o & PMASK] = c;
	j->o++;
	return 0;
}

static __always_inline void feed(struct scratch *s, __u32 src, __u32 off, __u32 len)
{
	s->j.src = src;
	s->j.off = off;
	s->j.len = len;
	bpf_loop(len + 1, join_cb, NULL, 0);
}

static __always_inline void join_start(struct scratch *s, __u32 dst)
{
	s->j.dst = dst;
	s->j.o = 0;
	s->j.depth = 0;
	s->j.incomp = 0;
	s->j.trunc = 0;
}

static __always_inline void join_end(struct scratch *s)
{
	struct joiner *j = &s->j;
	char *out = j->dst ? s->rec.new_path : s->rec.path;
	__u32 len = j->o;

	if (len == 0) {
		out[0] = '/';
		len = 1;
	}
	out[len & PMASK] = 0;
	__u32 bits = (len > LPM_DATA ? LPM_DATA : len) * 8;
	if (j->dst) {
		s->rec.new_len = len;
		s->rec.new_bits = bits;
		if (j->trunc)
			s->rec.trunc |= TRUNC_NEW;
	} else {
		s->rec.path_len = len;
		s->rec.path_bits = bits;
		if (j->trunc)
			s->rec.trunc |= TRUNC_PATH;
	}
}

/* feed_base feeds the path of dfd (or the cwd) into the joiner. */
static __always_inline int feed_base(struct scratch *s, int dfd)
{
	struct path p;

	if (dfd == AT_FDCWD) {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		if (BPF_CORE_READ_INTO(&p, t, fs, pwd))
			return -1;
	} else {
		struct file *f = fd_file(dfd);
		if (!f || BPF_CORE_READ_INTO(&p, f, f_path))
			return -1;
	}
	int pos = walk(s, &p);
	if (pos < 0)
		return -1;
	feed(s, SRC_BASE, pos, PB - pos);
	return 0;
}

/* resolve sets rec.path (dst 0) or rec.new_path (dst 1) to the canonical
 * path of name relative to dfd. */
static __always_inline int resolve(struct scratch *s, int dfd, __u64 name, __u32 dst)
{
	long n = bpf_probe_read_user_str(s->name, PB, (void *)name);
	if (n <= 0)
		return -1;
	join_start(s, dst);
	if (s->name[0] != '/' && feed_base(s, dfd))
		return -1;
	feed(s, SRC_NAME, 0, n - 1);
	join_end(s);
	return 0;
}

static __always_inline int match(void *trie, __u32 *key, __u32 len)
{
	struct watch *w = bpf_map_lookup_elem(trie, key);
	if (!w)
		return 0;
	return !w->exact || w->len == len || w->covered;
}

static __always_inline void set_inode(struct scratch *s, struct file *f)
{
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	s->rec.ino = BPF_CORE_READ(ino, i_ino);
	s->rec.dev = BPF_CORE_READ(ino, i_sb, s_dev);
	if (s->rec.op != OP_CHMOD) /* chmod keeps the mode it set */
		s->rec.mode = BPF_CORE_READ(ino, i_mode);
}

static __always_inline void rec_start(struct scratch *s, __u32 op)
{
	s->rec.op = op;
	s->rec.flags = 0;
	s->rec.mode = 0;
	s->rec.uid = 0;
	s->rec.gid = 0;
	s->rec.dev = 0;
	s->rec.ino = 0;
	s->rec.trunc = 0;
	s->rec.path_len = 0;
	s->rec.new_len = 0;
	s->rec.path_bits = 0;
	s->rec.new_bits = 0;
}

static __always_inline void emit(struct scratch *s)
{
	__u64 size;

	fill_proc(&s->rec.h, s->rec.op);
	if (s->rec.new_len)
		size = offsetof(struct file_rec, new_path) + (s->rec.new_len & PMASK);
	else
		size = offsetof(struct file_rec, path) + (s->rec.path_len & PMASK);
	if (size > sizeof(s->rec))
		size = sizeof(s->rec);
	submit(&s->rec, size);
}

/* ---- opens ---- */

static __always_inline int open_enter(__u32 flags, __u32 mode)
{
	if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pend p = {.op = OP_OPEN, .flags = flags, .mode = mode};
	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

static __always_inline int open_read(struct scratch *s, struct file *f, __u32 flags)
{
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	const unsigned char *name = BPF_CORE_READ(d, d_name.name);

	__builtin_memset(s->key, 0, NAME_KEY);
	bpf_probe_read_kernel_str(s->key, NAME_KEY, name);
	if (!bpf_map_lookup_elem(&read_names, s->key)) {
		count(CNT_FILTERED);
		return 0;
	}
	struct path p;
	if (BPF_CORE_READ_INTO(&p, f, f_path))
		return 0;
	int pos = walk(s, &p);
	if (pos < 0) {
		count(CNT_FILTERED);
		return 0;
	}
	rec_start(s, OP_OPEN_READ);
	copy_walk(s, pos);
	if (!match(&read_watch, &s->rec.path_bits, s->rec.path_len)) {
		count(CNT_FILTERED);
		return 0;
	}
	s->rec.flags = flags;
	set_inode(s, f);
	emit(s);
	return 0;
}

static __always_inline int open_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pend *pp = bpf_map_lookup_elem(&pending, &tid);
	__u32 flags = 0, zero = 0;
	int write = 0;

	if (pp) {
		/* A stale entry of another call (its exit never ran) is no
		 * write-open. */
		write = pp->op == OP_OPEN;
		flags = pp->flags;
		bpf_map_delete_elem(&pending, &tid);
	}
	if (ret < 0)
		return 0;
	if (!write) {
		struct settings *cfg = bpf_map_lookup_elem(&file_settings, &zero);
		if (!cfg || !cfg->read_enabled)
			return 0;
	}
	struct file *f = fd_file(ret);
	struct scratch *s = get_scratch();
	if (!f || !s)
		return 0;
	if (!write)
		return open_read(s, f, BPF_CORE_READ(f, f_flags));

	__u32 op;
	if (BPF_CORE_READ(f, f_mode) & FMODE_CREATED)
		op = OP_CREATE;
	else if (flags & O_TRUNC)
		op = OP_TRUNCATE;
	else if (flags & O_ACCMODE)
		op = OP_OPEN_WRITE;
	else
		return open_read(s, f, flags); /* O_CREAT of an existing file, read-only */

	struct path p;
	if (BPF_CORE_READ_INTO(&p, f, f_path))
		return 0;
	int pos = walk(s, &p);
	if (pos < 0) {
		count(CNT_FILTERED);
		return 0;
	}
	rec_start(s, op);
	copy_walk(s, pos);
	if (!match(&write_watch, &s->rec.path_bits, s->rec.path_len)) {
		if ((flags & O_ACCMODE) == O_RDWR && match(&read_watch, &s->rec.path_bits, s->rec.path_len)) {
			s->rec.op = OP_OPEN_READ;
		} else {
			count(CNT_FILTERED);
			return 0;
		}
	}
	s->rec.flags = flags;
	s->rec.mode = 0;
	set_inode(s, f);
	emit(s);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_open")
int enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_creat")
int enter_creat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(O_CREAT | O_WRONLY | O_TRUNC, ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	__u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[2]);
	return open_enter(flags, 0);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_creat")
int exit_creat(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }
SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx) { return open_exit(ctx->ret); }

/* ---- name- and fd-based actions ---- */

static __always_inline int stash(struct pend *p)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &tid, p, BPF_ANY);
	return 0;
}

static __always_inline int action_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pend *pp = bpf_map_lookup_elem(&pending, &tid);
	if (!pp)
		return 0;
	struct pend p = *pp;
	bpf_map_delete_elem(&pending, &tid);
	if (ret != 0 || p.op == OP_OPEN)
		return 0;
	struct scratch *s = get_scratch();
	if (!s)
		return 0;

	rec_start(s, p.op);
	s->rec.flags = p.flags;
	s->rec.mode = p.mode;
	s->rec.uid = p.uid;
	s->rec.gid = p.gid;
	if (!p.name) {
		struct file *f = fd_file(p.dfd);
		struct path fp;
		if (!f || BPF_CORE_READ_INTO(&fp, f, f_path))
			return 0;
		int pos = walk(s, &fp);
		if (pos < 0) {
			count(CNT_FILTERED);
			return 0;
		}
		copy_walk(s, pos);
		set_inode(s, f);
	} else if (p.op == OP_SYMLINK) {
		/* name is the target, relative to the link's directory. */
		if (resolve(s, p.dfd2, p.name2, 1))
			goto unresolved;
		long n = bpf_probe_read_user_str(s->name, PB, (void *)p.name);
		if (n <= 0)
			goto unresolved;
		join_start(s, 0);
		if (s->name[0] != '/') {
			feed(s, SRC_NEW, 0, s->rec.new_len & PMASK);
			pop(&s->j);
		}
		feed(s, SRC_NAME, 0, n - 1);
		join_end(s);
	} else {
		if (resolve(s, p.dfd, p.name, 0))
			goto unresolved;
		if (p.name2 && resolve(s, p.dfd2, p.name2, 1))
			goto unresolved;
	}

	if (!match(&write_watch, &s->rec.path_bits, s->rec.path_len) &&
	    !(s->rec.new_len && match(&write_watch, &s->rec.new_bits, s->rec.new_len))) {
		count(CNT_FILTERED);
		return 0;
	}
	emit(s);
	return 0;
unresolved:
	count(CNT_FILTERED);
	return 0;
}

#define EXIT(sys)                                                                                                      \
	SEC("tracepoint/syscalls/sys_exit_" #sys)                                                                      \
	int exit_##sys(struct trace_event_raw_sys_exit *ctx) { return action_exit(ctx->ret); }

#define A(i) ctx->args[i]

SEC("tracepoint/syscalls/sys_enter_rename")
int enter_rename(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_RENAME, .dfd = AT_FDCWD, .dfd2 = AT_FDCWD, .name = A(0), .name2 = A(1)};
	return stash(&p);
}
EXIT(rename)

SEC("tracepoint/syscalls/sys_enter_renameat")
int enter_renameat(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_RENAME, .dfd = A(0), .name = A(1), .dfd2 = A(2), .name2 = A(3)};
	return stash(&p);
}
EXIT(renameat)

SEC("tracepoint/syscalls/sys_enter_renameat2")
int enter_renameat2(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_RENAME, .dfd = A(0), .name = A(1), .dfd2 = A(2), .name2 = A(3), .flags = A(4)};
	return stash(&p);
}
EXIT(renameat2)

SEC("tracepoint/syscalls/sys_enter_unlink")
int enter_unlink(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_UNLINK, .dfd = AT_FDCWD, .name = A(0)};
	return stash(&p);
}
EXIT(unlink)

SEC("tracepoint/syscalls/sys_enter_unlinkat")
int enter_unlinkat(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_UNLINK, .dfd = A(0), .name = A(1), .flags = A(2)};
	return stash(&p);
}
EXIT(unlinkat)

SEC("tracepoint/syscalls/sys_enter_rmdir")
int enter_rmdir(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_UNLINK, .dfd = AT_FDCWD, .name = A(0)};
	return stash(&p);
}
EXIT(rmdir)

SEC("tracepoint/syscalls/sys_enter_chmod")
int enter_chmod(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHMOD, .dfd = AT_FDCWD, .name = A(0), .mode = A(1)};
	return stash(&p);
}
EXIT(chmod)

SEC("tracepoint/syscalls/sys_enter_fchmod")
int enter_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHMOD, .dfd = A(0), .mode = A(1)};
	return stash(&p);
}
EXIT(fchmod)

SEC("tracepoint/syscalls/sys_enter_fchmodat")
int enter_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHMOD, .dfd = A(0), .name = A(1), .mode = A(2)};
	return stash(&p);
}
EXIT(fchmodat)

SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int enter_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHMOD, .dfd = A(0), .name = A(1), .mode = A(2), .flags = A(3)};
	return stash(&p);
}
EXIT(fchmodat2)

SEC("tracepoint/syscalls/sys_enter_chown")
int enter_chown(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHOWN, .dfd = AT_FDCWD, .name = A(0), .uid = A(1), .gid = A(2)};
	return stash(&p);
}
EXIT(chown)

SEC("tracepoint/syscalls/sys_enter_lchown")
int enter_lchown(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHOWN, .dfd = AT_FDCWD, .name = A(0), .uid = A(1), .gid = A(2)};
	return stash(&p);
}
EXIT(lchown)

SEC("tracepoint/syscalls/sys_enter_fchown")
int enter_fchown(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHOWN, .dfd = A(0), .uid = A(1), .gid = A(2)};
	return stash(&p);
}
EXIT(fchown)

SEC("tracepoint/syscalls/sys_enter_fchownat")
int enter_fchownat(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_CHOWN, .dfd = A(0), .name = A(1), .uid = A(2), .gid = A(3), .flags = A(4)};
	return stash(&p);
}
EXIT(fchownat)

SEC("tracepoint/syscalls/sys_enter_truncate")
int enter_truncate(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_TRUNCATE, .dfd = AT_FDCWD, .name = A(0)};
	return stash(&p);
}
EXIT(truncate)

SEC("tracepoint/syscalls/sys_enter_ftruncate")
int enter_ftruncate(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_TRUNCATE, .dfd = A(0)};
	return stash(&p);
}
EXIT(ftruncate)

SEC("tracepoint/syscalls/sys_enter_link")
int enter_link(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_LINK, .dfd = AT_FDCWD, .dfd2 = AT_FDCWD, .name = A(0), .name2 = A(1)};
	return stash(&p);
}
EXIT(link)

SEC("tracepoint/syscalls/sys_enter_linkat")
int enter_linkat(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_LINK, .dfd = A(0), .name = A(1), .dfd2 = A(2), .name2 = A(3), .flags = A(4)};
	return stash(&p);
}
EXIT(linkat)

SEC("tracepoint/syscalls/sys_enter_symlink")
int enter_symlink(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_SYMLINK, .dfd2 = AT_FDCWD, .name = A(0), .name2 = A(1)};
	return stash(&p);
}
EXIT(symlink)

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int enter_symlinkat(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.op = OP_SYMLINK, .name = A(0), .dfd2 = A(1), .name2 = A(2)};
	return stash(&p);
}
EXIT(symlinkat)
