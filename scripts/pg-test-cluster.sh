#!/usr/bin/env bash
# pg-test-cluster.sh starts a throwaway PostgreSQL cluster on loopback for
# the store tests and prints the lines to evaluate:
#
#	eval "$(scripts/pg-test-cluster.sh)"      # sets GOCOMFY_TEST_POSTGRES_URL
#	go test ./internal/store/postgres/...
#	scripts/pg-test-cluster.sh stop "$GOCOMFY_TEST_POSTGRES_DATA"
#	scripts/pg-test-cluster.sh restart "$GOCOMFY_TEST_POSTGRES_DATA"
#
# It installs Debian's postgresql when no server binaries are found. The
# cluster trades durability for speed (fsync off): it is for tests only.
# PGTEST_PORT sets the port (default: the first free one from 55432).
set -euo pipefail

# pgbin prints the bin directory of the newest installed server.
pgbin() {
	ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# as_owner runs a command as the cluster's owner: initdb refuses root.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Tests that survive a database restart restart their own cluster.
if [ "${1:-}" = restart ]; then
	dir=${2:?usage: $0 restart DATA_DIR}
	as_owner "$(pgbin)/pg_ctl" -D "$dir" -l "$dir/log" -m fast -w restart >/dev/null
	exit 0
fi

if [ "${1:-}" = stop ]; then
	dir=${2:?usage: $0 stop DATA_DIR}
	as_owner "$(pgbin)/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
	rm -rf "$dir"
	exit 0
fi

if [ -z "$(pgbin)" ] || [ ! -x "$(pgbin)/initdb" ]; then
	echo "installing postgresql" >&2
	apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
bin=$(pgbin)
port=${PGTEST_PORT:-}
if [ -z "$port" ]; then
	# The first free port from 55432: another cluster (a developer's, a
	# second test run) may hold the default.
	port=55432
	while (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		port=$((port + 1))
	done
fi
dir=$(mktemp -d /tmp/gocomfy-pg.XXXXXX)
if [ "$(id -u)" = 0 ]; then
	chown postgres "$dir"
fi
as_owner "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $dir \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
echo "export GOCOMFY_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable'"
echo "export GOCOMFY_TEST_POSTGRES_DATA='$dir'"
