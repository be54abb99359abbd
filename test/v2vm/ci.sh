#!/bin/bash
# test/v2vm/ci.sh [PASS...]
#
# The cgroup v2 part of CI (`make test-v2`, which `make test` runs as
# root). This host is hybrid and its cgroup layout must not change, so the
# tests run in a throw-away guest with a pure cgroup2 hierarchy
# (run-in-v2.sh, next to this script: qemu TCG, the host's / read-only
# under a tmpfs overlay, memory/cpu/pids enabled at the root).
#
# On the host (as root) it:
#   1. builds the test binaries of ./cgroup, ./jail and ./test with
#      `go test -c -tags seccomp` (the guest compiles nothing);
#   2. boots one guest (V2VM_ICOUNT=0 by default: guest time follows the
#      instruction count, a ~1 GHz single CPU, so the tests' wall-clock
#      bounds hold however slow the emulation is) and runs this script in
#      it with --guest;
#   3. prints how long the boot and each step took (host wall clock) and
#      exits 0 only when every step of every pass passed.
#
# In the guest, each PASS runs these steps (a step fails the run; the
# others still run):
#   cgroup   the cgroup package's tests
#   jail     the jail package's tests
#   e2e      TestCgroupSmoke (test/cgroup_smoke_test.go) against the static
#            bin/pyexecd: eval, a 64 MiB limit OOM-killing a 300 MiB
#            allocation, a timeout that keeps its output, nothing left
#            after the stop (per-jail cgroups, state dirs, jail processes)
#
# Passes: "root" runs the steps as root; "rootless" runs the jail tests as
# an unprivileged user and the rootless e2e suite (servers started as
# throw-away users set up by `pyexecd setup`). A pass is a function
# pass_NAME below, named on the command line or in V2CI_PASSES (default:
# both). Measured on a busy 2-core host: root ~10 min, rootless ~24 min.
#
# Settings (environment):
#   PYEXEC_BIN, PYEXEC_CLI_BIN  the binaries under test
#                        (default: bin/pyexecd and bin/pyexec of the repo)
#   V2CI_PASSES="root rootless"  the passes when none are named
#   V2CI_STEPS="cgroup jail e2e"  the steps of each pass
#   V2CI_RUN=            a -test.run pattern for the cgroup and jail steps
#   V2CI_TIMEOUT=3600    seconds for the whole guest run (V2VM_TIMEOUT)
#   V2CI_KEEP=1          keep the built test binaries (their dir is printed)
#   V2VM_*               passed on to run-in-v2.sh (its header); V2VM_ICOUNT
#                        defaults to 0 and V2VM_CPUS to 1 here
#
# Reproduce by hand (from the repo root, as root):
#   make bin/pyexecd bin/pyexec && test/v2vm/ci.sh
#   V2CI_STEPS=jail V2CI_RUN='TestLimits' test/v2vm/ci.sh
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
say() { echo "v2ci: $*" >&2; }

# ---------------------------------------------------------------- guest --

# step NAME PREFIX... -- CMD...: runs CMD (after PREFIX, e.g. runuser) in
# the package dir, between marker lines the host times.
RESULTS=()
step() {
	local name=$1 dir=$2
	shift 2
	local t0 t1 rc
	echo "=== v2ci begin $name" >&2
	read -r t0 _ </proc/uptime
	(cd "$dir" && "$@")
	rc=$?
	read -r t1 _ </proc/uptime
	echo "=== v2ci end $name rc=$rc guest=$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")s" >&2
	RESULTS+=("$name:$rc")
	return $rc
}

# leftovers NAME: fails when anything of the tests outlived them: groups
# below the tests' cgroup parents, their state dirs, processes of their
# host id ranges (jails and user namespace holders).
leftovers() {
	local name=$1 left
	left=$(
		# the tests' parent groups (each test binary removes its own) and
		# anything below them; per-jail state and work dirs
		find /sys/fs/cgroup -maxdepth 1 -type d -name 'pyexec-*' -exec find {} -type d \; 2>/dev/null
		ls -d /run/pyexec-*/run/* /run/pyexec-*/work/* /run/pyexec-e2e-* 2>/dev/null
		# The tests' host ids: jail 300000.., crash 400000.., rootless
		# users' sub-ids 1048576.., e2e 268435456..
		ps -e -o uid=,pid=,comm= | awk '($1 >= 300000 && $1 < 2000000) || ($1 >= 268435456 && $1 < 300000000) { print "process " $2 ":" $3 }'
	)
	echo "=== v2ci begin $name" >&2
	if [ -n "$left" ]; then
		echo "left behind:" >&2
		echo "$left" | sed 's/^/  /' >&2
		echo "=== v2ci end $name rc=1 guest=0s" >&2
		RESULTS+=("$name:1")
		return 1
	fi
	echo "=== v2ci end $name rc=0 guest=0s" >&2
	RESULTS+=("$name:0")
}

# run_steps PASS PREFIX...: the steps of one pass, each test binary run
# after PREFIX (empty for root).
run_steps() {
	local pass=$1
	shift
	local s run=() bins=$V2CI_BINS
	[ -n "${V2CI_RUN:-}" ] && run=(-test.run "$V2CI_RUN")
	for s in ${V2CI_STEPS:-cgroup jail e2e}; do
		case $s in
		cgroup) step "$pass/cgroup" "$REPO/cgroup" "$@" "$bins/cgroup.test" -test.v -test.count=1 -test.timeout 10m "${run[@]}" ;;
		jail) step "$pass/jail" "$REPO/jail" "$@" "$bins/jail.test" -test.v -test.count=1 -test.timeout 30m "${run[@]}" ;;
		e2e) step "$pass/e2e" "$REPO/test" "$@" "$bins/e2e.test" -test.v -test.count=1 -test.timeout 10m -test.run '^TestCgroupSmoke$' ;;
		*) say "unknown step $s"; RESULTS+=("$pass/$s:2") ;;
		esac
	done
	leftovers "$pass/leftovers"
}

pass_root() {
	run_steps root
}

# pass_rootless: the jail package's tests as an unprivileged user
# (test/rootless-jail.sh), and the rootless e2e suite
# (test/rootless*_test.go), run as root: each test makes a throw-away user, `pyexecd setup --user` delegates
# it a cgroup2 group and makes the interpreters readable, and the server
# runs as that user (limits, OOM, fork bomb, timeout, 200 mixed runs,
# SIGKILL of the server and of its launcher, per-user budgets, the
# server in a group handed to it as systemd's Delegate=yes does),
# then --undo. The tests check their own leftovers; the pass checks the
# jail ranges too.
pass_rootless() {
	# Setup copies every interpreter the user cannot read, once per test
	# user, and a copy over the guest's 9p mount of / takes minutes: the
	# pass gives setup (through a pyenv-style root of links) only the
	# interpreters its tests use. The jail tests run 3.10 to 3.13 (3.11 is
	# the system's); the e2e tests the default series, 3.12.
	step rootless/jail "$REPO" env JAIL_TEST="$V2CI_BINS/jail.test" \
		PYEXEC_INTERPRETERS_ROOTS="$(pyenv_roots 3.10 3.12 3.13)" "$REPO/test/rootless-jail.sh" -test.v
	step rootless/e2e "$REPO/test" env PYEXEC_INTERPRETERS_ROOTS="$(pyenv_roots 3.12)" \
		"$V2CI_BINS/e2e.test" -test.v -test.count=1 -test.timeout 20m \
		-test.run '^(TestRootless|TestRootlessMixedRuns|TestRootlessSIGKILL|TestPerUserBudgets|TestRootlessOwnGroup|TestRootlessHostile)$'
	leftovers rootless/leftovers
}

# pyenv_roots SERIES...: a new directory of links to root's newest pyenv
# interpreter of each series (a pyenv-style root for
# interpreters.roots), printed.
pyenv_roots() {
	local d s v
	d=$(mktemp -d /tmp/pyexec-v2ci-roots.XXXXXX)
	for s in "$@"; do
		v=$(ls -d /root/.pyenv/versions/"$s".* 2>/dev/null | sort -V | tail -1)
		[ -n "$v" ] && ln -s "$v" "$d/"
	done
	say "interpreters for setup: $(ls "$d" | tr '\n' ' ')(and the system's)"
	echo "$d"
}

guest() {
	exec 2>&1 # one channel: the markers stay in order with the tests' output
	[ -f /sys/fs/cgroup/cgroup.controllers ] || { say "not a cgroup v2 guest"; exit 2; }
	say "guest: kernel $(uname -r), $(nproc) CPU, controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)"
	local p rc=0 r
	for p in "$@"; do
		if declare -F "pass_$p" >/dev/null; then
			"pass_$p"
		else
			say "unknown pass $p"
			RESULTS+=("$p:2")
		fi
	done
	for r in "${RESULTS[@]}"; do
		[ "${r##*:}" = 0 ] || rc=1
	done
	exit $rc
}

if [ "${1:-}" = --guest ]; then
	shift
	[ "${V2VM:-}" = 1 ] || { say "--guest runs inside run-in-v2.sh only"; exit 2; }
	guest "$@"
fi

# ----------------------------------------------------------------- host --

[ "$(id -u)" = 0 ] || { say "needs root (qemu's 9p export of /, jails in the guest)"; exit 2; }
[ $# -gt 0 ] || set -- ${V2CI_PASSES:-root rootless}
export PYEXEC_BIN=${PYEXEC_BIN:-$REPO/bin/pyexecd} PYEXEC_CLI_BIN=${PYEXEC_CLI_BIN:-$REPO/bin/pyexec}
for b in "$PYEXEC_BIN" "$PYEXEC_CLI_BIN"; do
	[ -x "$b" ] || { say "$b missing: build it first (make bin/pyexecd bin/pyexec)"; exit 2; }
done

T0=$(date +%s.%N)
V2CI_BINS=$(mktemp -d /var/tmp/pyexec-v2ci.XXXXXX) || exit 2
chmod 755 "$V2CI_BINS"
export V2CI_BINS
[ "${V2CI_KEEP:-0}" = 1 ] || trap 'rm -rf "$V2CI_BINS"' EXIT
for pkg in cgroup jail test; do
	out=$pkg
	[ $pkg = test ] && out=e2e
	(cd "$REPO" && CGO_ENABLED=1 go test -c -tags seccomp -o "$V2CI_BINS/$out.test" "./$pkg") ||
		{ say "building the $pkg tests failed"; exit 1; }
done
T1=$(date +%s.%N)
say "test binaries built in $(awk "BEGIN{printf \"%.1f\", $T1 - $T0}")s ($V2CI_BINS)"

export V2VM_ICOUNT=${V2VM_ICOUNT-0} V2VM_CPUS=${V2VM_CPUS:-1} V2VM_TIMEOUT=${V2VM_TIMEOUT:-${V2CI_TIMEOUT:-3600}}

# The guest's output passes through; its step markers are timed here, on
# the host's clock, and summed up at the end.
summary=$(mktemp) || exit 2
trap 'rm -f "$summary"; [ "${V2CI_KEEP:-0}" = 1 ] || rm -rf "$V2CI_BINS"' EXIT
set -o pipefail
"$HERE/run-in-v2.sh" "$HERE/ci.sh" --guest "$@" 2>&1 | {
	boot= last=$T1
	while IFS= read -r line; do
		printf '%s\n' "$line"
		now=$(date +%s.%N)
		case $line in
		"=== v2ci begin "*)
			[ -n "$boot" ] || { boot=$(awk "BEGIN{printf \"%.1f\", $now - $T1}"); echo "boot ${boot}s" >>"$summary"; }
			last=$now
			;;
		"=== v2ci end "*)
			read -r _ _ _ name res guest <<<"$line"
			echo "$name $res wall $(awk "BEGIN{printf \"%.1f\", $now - $last}")s $guest" >>"$summary"
			;;
		esac
	done
}
rc=$?
T2=$(date +%s.%N)
say "summary (host wall clock; guest= is the guest's own clock):"
sed 's/^/  /' "$summary" >&2
say "total $(awk "BEGIN{printf \"%.1f\", $T2 - $T0}")s (build $(awk "BEGIN{printf \"%.1f\", $T1 - $T0}")s, guest $(awk "BEGIN{printf \"%.1f\", $T2 - $T1}")s); exit $rc"
exit $rc
