# hexnet — see README.md. `make demo` runs the devnet, `make test` runs every test.
GO        ?= go
BIN       ?= bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
PROTOC_GEN_GO_VERSION := v1.36.12
# Packages whose tests need several minutes of wall time run with a longer timeout.
TEST_TIMEOUT ?= 30m

.PHONY: all build test test-short bench cross demo serve web proto lint fuzz clean deps

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

# Everything: unit, scenario, integration (embedded broker and Mosquitto), browser tests.
# The whole-network tests (test/devnet, test/browser, test/gaming) run after the
# others, one package at a time: their timing must not compete with the unit tests.
E2E := ./test/devnet ./test/browser ./test/gaming
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v -e /test/devnet -e /test/browser -e /test/gaming)
	$(GO) test -count=1 -p 1 -timeout $(TEST_TIMEOUT) $(E2E)

# Quick loop while developing: skips tests that call testing.Short().
test-short:
	$(GO) test -short ./...

# Benchmarks named in the issues; results in bench.txt as well as on stdout.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=2s ./... | tee bench.txt

# The agent for ARM gateways, pure Go.
cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/linux-arm64/hotspot ./cmd/hotspot
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/linux-armv7/hotspot ./cmd/hotspot
	@file $(BIN)/linux-arm64/hotspot $(BIN)/linux-armv7/hotspot 2>/dev/null || ls -l $(BIN)/linux-arm64/hotspot $(BIN)/linux-armv7/hotspot

# The whole network in one process over a simulated radio; the explorer on 127.0.0.1:8080.
demo: build
	$(BIN)/hexnet devnet --scenario small --http 127.0.0.1:8080

# The network side alone (embedded broker and store), as an operator runs it.
serve: build
	$(BIN)/hexnet serve

# Rebuilds the web map's committed assets (maps/web/dist) from npm packages.
web:
	cd maps/web && npm ci && npm run build

# Regenerates the committed internal/wire/wire.pb.go (needs protoc: apt-get install protobuf-compiler).
proto:
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc -I internal/wire --go_out=. --go_opt=module=github.com/hexnet/hexnet internal/wire/wire.proto
	PATH="$$($(GO) env GOPATH)/bin:$$PATH" protoc -I internal/ledger/ledgerpb --go_out=. --go_opt=module=github.com/hexnet/hexnet internal/ledger/ledgerpb/ledger.proto

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Runs each fuzz target for FUZZTIME (the seed corpora also run in `make test`).
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# What the tests need on a Debian machine (CI runs .ci/run, which installs the same):
# mosquitto (integration tests against a real external broker), chromium (the
# browser tests), qemu-user-static (the arm64 agent from a firmware bundle).
TEST_PACKAGES := mosquitto:/usr/sbin/mosquitto chromium:/usr/bin/chromium qemu-user-static:/usr/bin/qemu-aarch64-static
deps:
	@missing=""; for p in $(TEST_PACKAGES); do pkg=$${p%%:*}; bin=$${p#*:}; [ -x "$$bin" ] || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing for the tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "note:$$missing not installed (needs apt-get as root); the tests that need them will skip"; fi; \
	fi

clean:
	rm -rf $(BIN) bench.txt
