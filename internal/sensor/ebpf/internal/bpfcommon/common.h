/* Shared by the file and network sensors: the acting-process header every
 * record starts with, the ring buffer with batched wakeups and exact drop
 * counters, and the fd -> struct file lookup. Layouts here are mirrored by
 * bpfcommon.go; a test checks the offsets against the generated types. */
#pragma once

#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "bpf_tracing.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Indexes into the per-CPU counters map. */
#define CNT_DROPPED 0  /* ring buffer reserve/output failed */
#define CNT_FILTERED 1 /* discarded by an in-kernel filter */
#define CNT_MAX 2

struct proc_hdr {
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 euid;
	__u32 gid;
	__u32 egid;
	__u64 time_ns;      /* CLOCK_BOOTTIME */
	__u64 cgroup_id;
	__u64 start_time;   /* thread-group leader start, clock ticks since boot */
	__u64 parent_start; /* the real parent's, likewise */
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* set by the loader */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* The reader is woken only when this much data waits; otherwise it polls
 * every few milliseconds. Set by the loader. */
volatile const __u64 wakeup_bytes = 64 << 10;

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1;
}

/* last_wake is when a record last woke the reader. A record wakes it when
 * the buffer is filling (wakeup_bytes) or when no record has for
 * wakeup_gap_ns: an isolated event is delivered at once, a storm costs at
 * most one wakeup per gap, and an idle host none. Records in between are
 * picked up by the reader's short polls after each wakeup. */
__u64 last_wake;
volatile const __u64 wakeup_gap_ns = 5000000;

static __always_inline void submit(void *data, __u64 size)
{
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes || now - last_wake > wakeup_gap_ns) {
		flags = BPF_RB_FORCE_WAKEUP;
		last_wake = now;
	}
	if (bpf_ringbuf_output(&events, data, size, flags))
		count(CNT_DROPPED);
}

#define NSEC_PER_TICK 10000000ULL

static __always_inline void fill_proc(struct proc_hdr *h, __u32 kind)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u64 pt = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();

	h->kind = kind;
	h->pid = pt >> 32;
	h->tid = (__u32)pt;
	h->uid = (__u32)ug;
	h->gid = ug >> 32;
	h->euid = BPF_CORE_READ(t, cred, euid.val);
	h->egid = BPF_CORE_READ(t, cred, egid.val);
	h->ppid = BPF_CORE_READ(t, real_parent, tgid);
	h->start_time = BPF_CORE_READ(t, group_leader, start_boottime) / NSEC_PER_TICK;
	h->parent_start = BPF_CORE_READ(t, real_parent, group_leader, start_boottime) / NSEC_PER_TICK;
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->time_ns = bpf_ktime_get_boot_ns();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* fd_file returns the current task's struct file for fd, or NULL. */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct file **arr;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	arr = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
	return f;
}
