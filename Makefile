# fleetgate — the README's two commands are `make up` and `make test`.
SHELL := /usr/bin/env bash
export GOTOOLCHAIN := local
export GOFLAGS := -buildvcs=false
BIN := $(CURDIR)/bin
GO_SOURCES := $(shell find . -name '*.go' -not -path './hack/*' -not -path './bin/*' 2>/dev/null) go.mod go.sum
# Test parallelism sized for 2 cores: packages build/run two at a time.
TEST_P ?= 2
TEST_TIMEOUT ?= 40m
TEST_FLAGS ?=
# Loops of the chaos test under `make soak` (`make test` runs CHAOS_LOOPS, default 2).
SOAK_LOOPS ?= 20

.PHONY: all tools build test unit e2e up bench generate fmt vet clean soak

all: build

## tools: the real Kubernetes binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok), the Helm 3 CLI (helm) and cert-manager's CA issuer controllers (cert-manager-controller) into bin/; incremental.
tools:
	@BIN=$(BIN) hack/tools/build.sh

## build: fleetgate and kubectl-fleetgate into bin/.
build: $(BIN)/fleetgate $(BIN)/kubectl-fleetgate

$(BIN)/fleetgate: $(GO_SOURCES)
	go build -o $@ ./cmd/fleetgate

$(BIN)/kubectl-fleetgate: $(GO_SOURCES)
	go build -o $@ ./cmd/kubectl-fleetgate

# Unit and integration packages run with the race detector. The end-to-end packages (test/e2e/...)
# drive the prebuilt bin/fleetgate and the real kubectl as separate processes, so -race in their test
# process would find nothing of the product and only cost time: they run without it.
E2E_PKGS := ./test/e2e/...
RACE_PKGS = $(shell go list ./... | grep -v '/test/e2e/')

## test: everything — unit and integration tests (with -race), then end-to-end tests against real binaries.
test: tools build
	go vet ./...
	FLEETGATE_BIN=$(BIN) go test -race -p $(TEST_P) -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(RACE_PKGS)
	FLEETGATE_BIN=$(BIN) go test -p $(TEST_P) -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) $(E2E_PKGS)

## unit: only the tests that need no binaries.
unit:
	go test -short ./...

## up: the local environment (host control plane, gateway, two members), in the foreground; Ctrl-C tears it down.
up: tools build
	$(BIN)/fleetgate up --bin-dir $(BIN)

## bench: gateway vs direct, propagation, override, status, member view, Pull and memory benchmarks
## against real binaries, then the in-process engine benchmarks (override engine, placement).
bench: tools build
	FLEETGATE_BIN=$(BIN) go run ./test/bench
	go test -run '^$$' -bench . -benchmem ./propagate/override/ ./propagate/placement/

## soak: the chaos test (test/e2e/chaos) for SOAK_LOOPS loops; replay one loop with CHAOS_SEED=<seed> SOAK_LOOPS=1.
soak: tools build
	FLEETGATE_BIN=$(BIN) CHAOS_LOOPS=$(SOAK_LOOPS) go test -count=1 -timeout 90m -run TestChaos -v ./test/e2e/chaos/

## generate: deep-copy functions and CRD manifests from apis/.
generate:
	hack/generate.sh

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '^hack/tools/')

clean:
	rm -rf $(BIN) .fleetgate
