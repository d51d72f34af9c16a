# Vigil build, run and test entry points. See README.md.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X github.com/vigilsec/vigil/internal/version.Version=$(VERSION)
# go.mod names the minimum Go; older toolchains refuse to build with a clear message.
GOMIN     := 1.26

.PHONY: all build up run check test test-deps fuzz bench generate lint clean go-version

all: build

go-version:
	@$(GO) version >/dev/null 2>&1 || { echo "Go $(GOMIN) or newer is needed: https://go.dev/doc/install"; exit 1; }

build: go-version
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/vigil ./cmd/vigil

# The main job: the server and this host's agent, console on http://127.0.0.1:8080
# (as root: the agent's sensors and responses need it).
up: build
	./bin/vigil up

# Inventory this host once, without a server.
run: build
	./bin/vigil inventory

# Everything the tests need, then every test. CI runs this (see .ci/run).
check: test-deps test

test-deps:
	./scripts/test-deps.sh

test: go-version
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# Run each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	$(GO) run ./bench/inventory -vigil bin/vigil

# Regenerates BPF objects and the protobuf/gRPC code of api/ (checked in CI
# with git diff --exit-code). Protobuf needs protoc (Debian protobuf-compiler)
# and these pinned plugins, installed into bin/tools.
PROTOC_GEN_GO      := google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC := google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
generate:
	GOBIN=$(CURDIR)/bin/tools $(GO) install $(PROTOC_GEN_GO)
	GOBIN=$(CURDIR)/bin/tools $(GO) install $(PROTOC_GEN_GO_GRPC)
	PATH="$(CURDIR)/bin/tools:$$PATH" $(GO) generate ./...

clean:
	rm -rf bin
