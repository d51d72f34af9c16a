//go:build ignore

/* Network sensor: connect(2) on TCP and UDP sockets (reported at sys_exit
 * with its result), accept/accept4 (the new socket's addresses), listen(2)
 * and, when enabled, TCP state changes (sock/inet_sock_set_state). */
#include "common.h"
#include "bpf_endian.h"

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_MPTCP 262 /* Go listens with MPTCP by default; TCP on the wire */
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* Kinds; mirrored in network.go. */
#define K_CONNECT 1
#define K_ACCEPT 2
#define K_LISTEN 3
#define K_TCP_STATE 4

struct net_rec {
	struct proc_hdr h;
	__u16 family;
	__u16 protocol;
	__u16 sport; /* host order */
	__u16 dport; /* host order */
	__s32 result; /* connect: 0 or a negative errno */
	__u16 oldstate;
	__u16 newstate;
	__u8 saddr[16]; /* AF_INET: the first 4 bytes */
	__u8 daddr[16];
};

struct pend {
	__s32 fd;
	__u16 family;
	__u16 protocol;
	__u16 dport;
	__u16 pad;
	__u8 daddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct pend);
} pending SEC(".maps");

const struct net_rec *unused_net_rec __attribute__((unused));

/* sk_proto is the socket's protocol, MPTCP counted as TCP. */
static __always_inline __u16 sk_proto(struct sock *sk)
{
	__u16 proto = BPF_CORE_READ(sk, sk_protocol);
	return proto == IPPROTO_MPTCP ? IPPROTO_TCP : proto;
}

/* inet_sock returns the sock behind fd when fd is an AF_INET/AF_INET6 TCP
 * (or MPTCP) or UDP socket. */
static __always_inline struct sock *inet_sock(int fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u16 proto = sk_proto(sk);
	if ((fam != AF_INET && fam != AF_INET6) || (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return NULL;
	return sk;
}

/* fill_sock sets the family, protocol and both ends from sk. */
static __always_inline void fill_sock(struct net_rec *r, struct sock *sk)
{
	r->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r->protocol = sk_proto(sk);
	r->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (r->family == AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)r->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)r->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)r->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)r->daddr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline void emit(struct net_rec *r, __u32 kind)
{
	fill_proc(&r->h, kind);
	submit(r, sizeof(*r));
}

SEC("tracepoint/syscalls/sys_enter_connect")
int enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.fd = ctx->args[0]};
	void *uaddr = (void *)ctx->args[1];
	__u16 fam = 0;

	if (bpf_probe_read_user(&fam, sizeof(fam), uaddr) || (fam != AF_INET && fam != AF_INET6))
		return 0;
	struct sock *sk = inet_sock(p.fd);
	if (!sk) {
		count(CNT_FILTERED);
		return 0;
	}
	p.family = fam;
	p.protocol = sk_proto(sk);
	if (fam == AF_INET) {
		struct sockaddr_in sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), uaddr);
		p.dport = bpf_ntohs(sa.sin_port);
		__builtin_memcpy(p.daddr, &sa.sin_addr.s_addr, 4);
	} else {
		struct sockaddr_in6 sa = {};
		bpf_probe_read_user(&sa, sizeof(sa), uaddr);
		p.dport = bpf_ntohs(sa.sin6_port);
		__builtin_memcpy(p.daddr, &sa.sin6_addr, 16);
	}
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_connect")
int exit_connect(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pend *pp = bpf_map_lookup_elem(&pending, &tid);
	if (!pp)
		return 0;
	struct pend p = *pp;
	bpf_map_delete_elem(&pending, &tid);

	struct net_rec r = {};
	r.result = ctx->ret;
	r.family = p.family;
	r.protocol = p.protocol;
	r.dport = p.dport;
	__builtin_memcpy(r.daddr, p.daddr, 16);
	/* The source is known once the kernel bound the socket. */
	struct sock *sk = inet_sock(p.fd);
	if (sk) {
		/* The address it sends from: a connected UDPv6 socket may
		 * keep an unspecified bound address. */
		struct inet_sock *inet = (struct inet_sock *)sk;
		r.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
		if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET)
			BPF_CORE_READ_INTO((__u32 *)r.saddr, inet, inet_saddr);
		else
			BPF_CORE_READ_INTO((struct in6_addr *)r.saddr, inet, pinet6, saddr);
	}
	emit(&r, K_CONNECT);
	return 0;
}

static __always_inline int accept_exit(long ret)
{
	if (ret < 0)
		return 0;
	struct sock *sk = inet_sock(ret);
	if (!sk)
		return 0;
	struct net_rec r = {};
	fill_sock(&r, sk);
	emit(&r, K_ACCEPT);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int exit_accept(struct trace_event_raw_sys_exit *ctx) { return accept_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_exit_accept4")
int exit_accept4(struct trace_event_raw_sys_exit *ctx) { return accept_exit(ctx->ret); }

SEC("tracepoint/syscalls/sys_enter_listen")
int enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	struct pend p = {.fd = ctx->args[0]};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	bpf_map_update_elem(&pending, &tid, &p, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_listen")
int exit_listen(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pend *pp = bpf_map_lookup_elem(&pending, &tid);
	if (!pp)
		return 0;
	int fd = pp->fd;
	bpf_map_delete_elem(&pending, &tid);
	if (ctx->ret != 0)
		return 0;
	struct sock *sk = inet_sock(fd);
	if (!sk)
		return 0;
	struct net_rec r = {};
	fill_sock(&r, sk);
	emit(&r, K_LISTEN);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->protocol != IPPROTO_TCP)
		return 0;
	struct net_rec r = {};
	r.family = ctx->family;
	r.protocol = IPPROTO_TCP;
	r.sport = ctx->sport;
	r.dport = ctx->dport;
	r.oldstate = ctx->oldstate;
	r.newstate = ctx->newstate;
	if (ctx->family == AF_INET) {
		bpf_probe_read_kernel(r.saddr, 4, ctx->saddr);
		bpf_probe_read_kernel(r.daddr, 4, ctx->daddr);
	} else {
		bpf_probe_read_kernel(r.saddr, 16, ctx->saddr_v6);
		bpf_probe_read_kernel(r.daddr, 16, ctx->daddr_v6);
	}
	emit(&r, K_TCP_STATE);
	return 0;
}
