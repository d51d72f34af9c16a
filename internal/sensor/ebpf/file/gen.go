package file

//go:generate go tool bpf2go -cc clang -cflags "-O2 -g -Wall -Werror" -target amd64 -type file_rec -type lpm_key -type watch -type settings file file.bpf.c -- -I../../../bpf/headers -I../internal/bpfcommon
