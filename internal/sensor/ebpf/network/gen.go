package network

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64 -type net_rec network network.bpf.c -- -I../../../bpf/headers -I../internal/bpfcommon
