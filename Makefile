# pyexec: `make run` builds and serves on 127.0.0.1:8080; `make test` runs every test.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The server links libcontainer's seccomp support (cgo + libseccomp), statically,
# and not its checkpoint/restore (CRIU) code, which pyexec never uses.
SERVER_TAGS    := seccomp netgo osusergo runc_nocriu
SERVER_LDFLAGS := -s -w -X main.version=$(VERSION) -linkmode external -extldflags "-static"
TEST_TAGS      := seccomp
# The packages whose tests need no root, run again under the race detector
# (which needs cgo). The others start jails.
RACE_PKGS      := ./api ./client/... ./cmd/pyexec ./cmd/pyexecd ./configs/... ./interpreters ./interpreters/requirements ./runner ./server/...

.PHONY: bench-floor all build run test test-v2 test-short check vet fmt-check tidy-check race bench bench-quick bench-seed deps fmt clean cross

all: build

# libseccomp-dev (headers + libseccomp.a) and pkg-config, installed when missing.
deps:
	@if [ ! -f /usr/lib/x86_64-linux-gnu/libseccomp.a ] && [ ! -f /usr/lib/libseccomp.a ] || ! command -v pkg-config >/dev/null; then \
		echo "installing libseccomp-dev and pkg-config"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq libseccomp-dev pkg-config >/dev/null; \
	fi

build: deps bin/pyexecd bin/pyexec

bin/pyexecd: deps FORCE
	CGO_ENABLED=1 $(GO) build -tags "$(SERVER_TAGS)" -ldflags '$(SERVER_LDFLAGS)' -o $@ ./cmd/pyexecd

bin/pyexec: FORCE
	CGO_ENABLED=0 $(GO) build -ldflags '-s -w -X main.buildVersion=$(VERSION)' -o $@ ./cmd/pyexec

FORCE:

# Serves on the embedded defaults (127.0.0.1:8080); jails need root.
run: build
	./bin/pyexecd

# Every test: the checks, unit tests, real jails (root), the jail tests
# again as an unprivileged user (test/rootless-jail.sh), and end-to-end
# against the bin/pyexecd and bin/pyexec just built (the shipped binaries).
# Under CI=true, tests that need root/namespaces/cgroups fail instead of
# skipping, and the end-to-end suite refuses to build binaries of its own.
test: check build
	PYEXEC_BIN=$(CURDIR)/bin/pyexecd PYEXEC_CLI_BIN=$(CURDIR)/bin/pyexec \
		CGO_ENABLED=1 $(GO) test -tags "$(TEST_TAGS)" -count=1 -timeout 30m ./...
	PYEXEC_BIN=$(CURDIR)/bin/pyexecd test/rootless-jail.sh
	GOOS=darwin CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/pyexec
	GOOS=windows CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/pyexec
	@$(TEST_V2)

# The cgroup v2 tests (test/v2vm/ci.sh): as root, the cgroup and jail
# packages' tests and a short end-to-end check of bin/pyexecd; rootless,
# the jail tests as a user and the rootless end-to-end suite; in a
# throw-away qemu guest with a pure cgroup2 hierarchy (this host's layout
# is left alone). ~35 minutes under software emulation on a busy host. It needs root (qemu's 9p export of
# /): without root it is skipped, except under CI=true, where it fails.
test-v2: build
	@$(TEST_V2)

TEST_V2 = if [ "$$(id -u)" != 0 ]; then \
		if [ "$$CI" = true ]; then echo "test-v2: needs root; CI=true runs as root, so this is a failure"; exit 1; fi; \
		echo "test-v2: skipped: the cgroup v2 guest needs root (under CI=true this fails)"; exit 0; \
	fi; \
	PYEXEC_BIN=$(CURDIR)/bin/pyexecd PYEXEC_CLI_BIN=$(CURDIR)/bin/pyexec test/v2vm/ci.sh

# Unit tests only: no root needed.
test-short:
	CGO_ENABLED=1 $(GO) test -tags "$(TEST_TAGS)" -short -count=1 ./...

# What CI checks besides the tests (make test runs it first).
check: vet fmt-check tidy-check race

vet: deps
	CGO_ENABLED=1 $(GO) vet -tags "$(TEST_TAGS)" ./...

# Fails when gofmt would change a file (make fmt fixes them).
fmt-check:
	@files=$$(gofmt -l .); if [ -n "$$files" ]; then \
		echo "gofmt -l lists files (run make fmt):"; echo "$$files"; exit 1; fi

# Fails when go mod tidy would change go.mod or go.sum (it prints the diff).
tidy-check:
	$(GO) mod tidy -diff

race: deps
	CGO_ENABLED=1 $(GO) test -race -tags "$(TEST_TAGS)" -count=1 $(RACE_PKGS)

fmt:
	gofmt -l -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# Benchmarks against the real binary (issue 11's table: bare python, zygotes
# on and off, each figure beside its target); bench-quick < 1 min.
bench: build
	CGO_ENABLED=1 $(GO) test -tags "$(TEST_TAGS)" -run '^$$' -bench 'Jail|BarePython' -benchtime 100x ./jail/
	$(GO) run ./test/bench -bin bin/pyexecd
	@$(BENCH_ROOTLESS)

# Root vs rootless, trivial /eval back to back with zygotes, a pool and cold
# (test/rootless_budget_test.go's TestRootlessLatency: a throw-away user set
# up by `pyexecd setup`). Needs root; skipped otherwise.
BENCH_ROOTLESS = if [ "$$(id -u)" != 0 ]; then echo "bench: root vs rootless skipped: needs root"; exit 0; fi; \
	PYEXEC_BIN=$(CURDIR)/bin/pyexecd PYEXEC_CLI_BIN=$(CURDIR)/bin/pyexec PYEXEC_E2E_LATENCY_RUNS=200 \
		CGO_ENABLED=1 $(GO) test -tags "$(TEST_TAGS)" -count=1 -timeout 20m -run '^TestRootlessLatency$$' -v ./test/ | \
		sed -n '/trivial \/eval back to back/,/^--- /p'

bench-quick: build
	$(GO) run ./test/bench -bin bin/pyexecd -quick

# The floor of the zygote design on this machine (test/bench/floor.py): a
# run's forks, namespaces, mounts, user namespace, seccomp and cgroup with
# nothing of pyexec around them, step by step, 4 workers (root).
FLOOR_PYTHON ?= $(HOME)/.pyenv/versions/3.12.1/bin/python3
FLOOR_STEPS = none fs fs,lo fs,lo,proc fs,lo,proc,user fs,lo,proc,user,sec \
	fs,lo,proc,user,sec,py fs,lo,proc,user,sec,py,cg
bench-floor:
	@for s in $(FLOOR_STEPS); do $(FLOOR_PYTHON) test/bench/floor.py 5 4 $$s || exit 1; done

# python-executor's own scripts/benchmark.py --quick against bin/pyexecd
# (zygotes on and off), its server-ms column per case. PE_DIR is a checkout
# of github.com/geraldthewes/python-executor; its script needs requests
# (Debian: apt-get install python3-requests; SEED_PYTHON picks the python).
SEED_PYTHON ?= /usr/bin/python3
bench-seed: build
	@if [ -z "$(PE_DIR)" ]; then echo "bench-seed: set PE_DIR to a python-executor checkout"; exit 1; fi
	$(GO) run ./test/bench -bin bin/pyexecd -seed "$(PE_DIR)" -seed-python "$(SEED_PYTHON)"
