package netblock

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64 -type key6 netblock netblock.bpf.c -- -I../../bpf/headers
