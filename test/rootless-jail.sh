#!/bin/bash
# test/rootless-jail.sh [TEST ARGS...]
#
# The jail package's tests as an unprivileged user, the way a rootless
# pyexecd runs: as root it makes a throw-away user, runs `pyexecd setup`
# for it (sub-id range, delegated cgroup parent, interpreter copies), and
# runs the jail test binary as that user; the binary re-executes itself
# into a user namespace mapped from the user's range (newuidmap, once) and
# runs every test there (jail/rootless_main_test.go), with its Managers'
# cgroup parents below the delegated group and their state in a dir of the
# user's. Then it removes what it made (setup --undo, userdel) and fails if
# anything of the tests is left. `make test` runs it (root); so does the
# cgroup v2 guest's rootless pass (test/v2vm/ci.sh).
#
# Runs with network need an IPv4 default route on the host (pasta's); on
# a host without one (CI's cgroup v2 guest) the script makes one, as root,
# through a veth pair of its own, for as long as the tests run.
#
# Two tests are left to the root pass: TestNetworkMatrix and
# TestNetworkAllowCIDR build a namespace that plays the outside world, with
# a veth in the host's namespace and the test's listeners inside, which
# takes host root (jailtest.NewOutside fails rootless; the rest of the
# network tests run).
#
# Settings: PYEXEC_BIN (default bin/pyexecd: its setup), JAIL_TEST (a
# prebuilt `go test -c` binary of ./jail; default: built here).
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
say() { echo "rootless-jail: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
	if [ "${CI:-}" = true ]; then say "needs root (to make the user); CI=true runs as root, so this is a failure"; exit 1; fi
	say "skipped: needs root to make the test user (under CI=true this fails)"
	exit 0
fi
PYEXECD=${PYEXEC_BIN:-$REPO/bin/pyexecd}
[ -x "$PYEXECD" ] || { say "$PYEXECD missing: make bin/pyexecd"; exit 2; }
command -v newuidmap >/dev/null || { say "newuidmap missing: apt-get install uidmap"; exit 1; }

U=pxjail$$
PARENT=pyexec-jt-$$
BASE=$(mktemp -d /var/tmp/pyexec-rljail.XXXXXX) || exit 2
chmod 755 "$BASE"
SETUP=$BASE/setup
STATE=/run/pyexec-rljail-$$
rc=0

mode=v1
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	mode=v2 CG2=/sys/fs/cgroup/$PARENT
elif [ -d /sys/fs/cgroup/unified ]; then
	mode=hybrid CG2=/sys/fs/cgroup/unified/$PARENT
fi

cleanup() {
	local st=$?
	# What the tests left (they report it themselves): gone, so that
	# setup --undo and userdel can run.
	pkill -9 -u "$U" 2>/dev/null
	sleep 0.5
	if [ -n "${CG2:-}" ] && [ -d "$CG2" ]; then
		find "$CG2" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	for d in /sys/fs/cgroup/*/"$PARENT"; do
		[ -d "$d" ] && find "$d" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	PYEXEC_JAIL_SETUP_DIR=$SETUP "$PYEXECD" setup --user "$U" --cgroup-parent "$PARENT" --undo >/dev/null 2>"$BASE/undo.log" ||
		{ say "setup --undo failed:"; cat "$BASE/undo.log" >&2; rc=1; }
	userdel "$U" 2>/dev/null || { say "userdel $U failed"; rc=1; }
	[ -n "${ROUTE_IF:-}" ] && ip link del "$ROUTE_IF" 2>/dev/null
	grep -qs " $STATE" /proc/self/mountinfo || rm -rf "$STATE"
	rm -rf "$BASE"
	[ "$st" = 0 ] || rc=$st
	exit $rc
}
trap cleanup EXIT

useradd --system --no-create-home --shell /usr/sbin/nologin "$U" || exit 1
PYEXEC_JAIL_SETUP_DIR=$SETUP "$PYEXECD" setup --user "$U" --cgroup-parent "$PARENT" >/dev/null 2>"$BASE/setup.log" ||
	{ say "setup failed:"; cat "$BASE/setup.log" >&2; exit 1; }
mkdir -p "$STATE" && chown "$U:" "$STATE" && chmod 711 "$STATE" # the jails' ids search it

if [ -z "$(ip -4 route show default 2>/dev/null)" ]; then
	# A veth pair with both ends here: no namespace whose end could take it
	# away (the tests that need a real outside run as root).
	ROUTE_IF=pxrh$$
	ip link add "$ROUTE_IF" type veth peer name "pxrp$$" &&
		ip addr add 198.19.254.1/30 dev "$ROUTE_IF" && ip link set "$ROUTE_IF" up && ip link set "pxrp$$" up &&
		ip route add default via 198.19.254.2 dev "$ROUTE_IF" || { say "no default route, and making one failed"; exit 1; }
fi

BIN=${JAIL_TEST:-}
if [ -z "$BIN" ]; then
	BIN=$BASE/jail.test
	(cd "$REPO" && CGO_ENABLED=1 go test -c -tags seccomp -o "$BIN" ./jail) || { say "building the jail tests failed"; exit 1; }
fi
cp "$BIN" "$BASE/jail.test.run" && chmod 755 "$BASE/jail.test.run"

# The tests run in a leaf of the delegated cgroup2 group (the kernel moves
# a task between cgroup2 groups only for a writer of their common
# ancestor); on v2 the group enables its controllers for the Managers'
# parents below it.
if [ -n "${CG2:-}" ]; then
	mkdir "$CG2/tests" && chown "$U:" "$CG2/tests" "$CG2/tests/cgroup.procs" || exit 1
	if [ $mode = v2 ]; then
		echo "+memory +cpu +pids" >"$CG2/cgroup.subtree_control" || { say "enable controllers in $CG2"; exit 1; }
	fi
fi

say "$mode: jail tests as $U (sub-ids $(grep "^$U:" /etc/subuid | cut -d: -f2-)), parent $PARENT, state $STATE"
t0=$(date +%s)
# A subshell enters the leaf and becomes runuser: the test arguments ("$@")
# pass through as they are, with no shell between to split or expand them.
(
	if [ -n "${CG2:-}" ]; then
		echo "$BASHPID" >"$CG2/tests/cgroup.procs" || exit 1
	fi
	exec runuser -u "$U" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$BASE" CI="${CI:-}" \
		PYEXEC_JAIL_TEST_ROOTLESS=1 PYEXEC_JAIL_TEST_CGROUP="$PARENT" PYEXEC_JAIL_TEST_STATE="$STATE" \
		PYEXEC_JAIL_TEST_SETUP_DIR="$SETUP" "$BASE/jail.test.run" -test.count=1 -test.timeout 30m \
		-test.skip '^(TestNetworkMatrix|TestNetworkAllowCIDR)$' "$@"
) </dev/null
trc=$?
say "the jail tests as $U exited $trc after $(($(date +%s) - t0)) s"
[ $trc = 0 ] || rc=1

left=$(ps -u "$U" -o pid=,comm= 2>/dev/null)
[ -n "$left" ] && { say "processes of $U left: $left"; rc=1; }
exit $rc
