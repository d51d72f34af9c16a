// Package vigilv1 is the generated protobuf and gRPC code of the agent
// link API (link.proto). Regenerate with `make generate`; needs protoc
// (Debian protobuf-compiler), protoc-gen-go v1.36.12 and protoc-gen-go-grpc
// v1.5.1 on PATH.
package vigilv1

//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative link.proto
