#!/usr/bin/env bash
# test.sh runs the whole test suite against both stores: it starts a
# throwaway PostgreSQL cluster on loopback (installing Debian's postgresql
# when no server is found) unless GOCOMFY_TEST_POSTGRES_URL already names
# one, then runs `go test -race` on every package. Extra arguments go to
# go test (for example -run or -v).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${GOCOMFY_TEST_POSTGRES_URL:-}" ]; then
	cluster=$(scripts/pg-test-cluster.sh) # exits here if the cluster does not start
	eval "$cluster"
	trap 'scripts/pg-test-cluster.sh stop "$GOCOMFY_TEST_POSTGRES_DATA"' EXIT
fi
# With a database at hand, a PostgreSQL test that cannot reach it fails
# instead of skipping: nothing is silently left out.
export CI=true
go test -race -count=1 "$@" ./...
