//go:build ignore

// SPDX-License-Identifier: GPL-2.0
// cgroup sock_addr programs that refuse connect(2) and sendmsg(2) to
// blocked addresses. Attached to the cgroup v2 root, they see every
// process of the host. Returning 0 makes the syscall fail with EPERM.
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_endian.h"

char LICENSE[] SEC("license") = "GPL";

struct key6 {
	__u32 addr[4];
};

// Values are the expiry in CLOCK_MONOTONIC ns; 0 means no expiry. An
// expired entry allows; user space deletes it.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32); // IPv4 address, network byte order
	__type(value, __u64);
} blocked4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct key6); // IPv6 address, network byte order
	__type(value, __u64);
} blocked6 SEC(".maps");

// denied[0] counts refused calls.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} denied SEC(".maps");

static __always_inline int verdict(__u64 *exp)
{
	if (!exp)
		return 1;
	if (*exp && bpf_ktime_get_ns() >= *exp)
		return 1;
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&denied, &zero);
	if (n)
		*n += 1;
	return 0;
}

static __always_inline int check4(struct bpf_sock_addr *ctx)
{
	__u32 ip = ctx->user_ip4;
	return verdict(bpf_map_lookup_elem(&blocked4, &ip));
}

static __always_inline int check6(struct bpf_sock_addr *ctx)
{
	struct key6 k = {};
	k.addr[0] = ctx->user_ip6[0];
	k.addr[1] = ctx->user_ip6[1];
	k.addr[2] = ctx->user_ip6[2];
	k.addr[3] = ctx->user_ip6[3];
	// An IPv4-mapped address (::ffff:a.b.c.d) on a dual-stack socket
	// reaches an IPv4 host: judge it by the IPv4 list.
	if (k.addr[0] == 0 && k.addr[1] == 0 && k.addr[2] == bpf_htonl(0xffff)) {
		__u32 ip = k.addr[3];
		return verdict(bpf_map_lookup_elem(&blocked4, &ip));
	}
	return verdict(bpf_map_lookup_elem(&blocked6, &k));
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx) { return check4(ctx); }

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx) { return check4(ctx); }

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx) { return check6(ctx); }

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx) { return check6(ctx); }
