#!/usr/bin/env bash
# Starts one private PostgreSQL cluster for the store tests on 127.0.0.1
# and prints the DSN to export, so test packages share it instead of each
# running initdb:
#
#   eval "$(scripts/start-postgres.sh)"   # sets VIGIL_TEST_POSTGRES_DSN
#   scripts/start-postgres.sh stop
#
# Tests also work without it (each package starts its own cluster). The
# cluster lives in $VIGIL_PG_DIR (default /var/tmp/vigil-pg) and listens on
# $VIGIL_PG_PORT (default 55432) with trust authentication on loopback
# only. Safe to run again: a running cluster is reused.
set -euo pipefail

dir=${VIGIL_PG_DIR:-/var/tmp/vigil-pg}
port=${VIGIL_PG_PORT:-55432}

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
	echo "start-postgres: PostgreSQL server binaries not found under /usr/lib/postgresql" >&2
	exit 1
fi

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

if [ "${1:-start}" = stop ]; then
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >&2
	fi
	exit 0
fi

if [ ! -f "$dir/data/PG_VERSION" ]; then
	rm -rf "$dir"
	mkdir -p "$dir/sock"
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
	as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --no-locale -E UTF8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
fi
if ! as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
	as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir/sock -c fsync=off -c max_connections=100" start >&2 ||
		{ tail -n 20 "$dir/log" >&2; exit 1; }
fi
echo "export VIGIL_TEST_POSTGRES_DSN='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
