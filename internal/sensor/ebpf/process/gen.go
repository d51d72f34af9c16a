package process

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64 -type pevent process process.bpf.c -- -I../../../bpf/headers
