#!/usr/bin/env bash
# Tests of gocomfy's web page: the unit tests of web/src, checks that the
# embedded build (internal/web/dist) and templates (internal/web/templates)
# match their sources, and the browser tests (e2e/e2e.mjs) against a freshly
# built gocomfy.
#
# Needs Node >= 20.19 with npm, Go, and Debian's chromium
# (apt-get install chromium). npm never downloads a browser here:
# playwright-core has no download step. COMFYUI_FRONTEND_DIR=<built
# ComfyUI_frontend dist/> adds the official-frontend case; GOCOMFY_BIN=<a
# built gocomfy> tests that binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund --loglevel=error

echo "-- unit tests"
npm test --silent

echo "-- internal/web/dist is the build of web/"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npx vite build --logLevel error --outDir "$out/dist" --emptyOutDir
if ! diff -r "$out/dist" ../internal/web/dist; then
	echo "internal/web/dist is stale: run 'cd web && npm ci && npm run build' and commit it"
	exit 1
fi

if [ -z "${GOCOMFY_BIN:-}" ]; then
	(cd .. && go build -o "$out/gocomfy" ./cmd/gocomfy)
	export GOCOMFY_BIN="$out/gocomfy"
fi

echo "-- internal/web/templates is the build of web/templates/sources.json"
# The workflows and the index exactly; the thumbnails by name, since their
# bytes also follow the PNG encoder's settings.
node templates/build.mjs "$out/templates"
if ! diff -r -x '*.png' "$out/templates" ../internal/web/templates ||
	[ "$(cd "$out/templates" && ls)" != "$(cd ../internal/web/templates && ls)" ]; then
	echo "internal/web/templates is stale: run 'cd web && npm ci && npm run templates' and commit it"
	exit 1
fi

echo "-- browser tests"
node e2e/e2e.mjs
