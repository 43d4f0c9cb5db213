#!/usr/bin/env bash
# The project's test command: builds and starts a local Jaeger, runs every
# test with the race detector against it, stops Jaeger again and exits with
# the tests' status. Extra arguments go to `go test` (e.g. -run, -count=1).
#
# Tests find Jaeger through the environment (see internal/jaegertest):
#   OTELCTX_JAEGER_QUERY  query HTTP API base URL
#   OTELCTX_JAEGER_OTLP   OTLP/HTTP base URL (POST /v1/traces)
# A Jaeger already started with scripts/jaeger.sh is used and left running.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! scripts/jaeger.sh status >/dev/null; then
	trap 'scripts/jaeger.sh stop' EXIT
	scripts/jaeger.sh start
fi
export OTELCTX_JAEGER_QUERY=http://127.0.0.1:16686
export OTELCTX_JAEGER_OTLP=http://127.0.0.1:4318

# The OpenTelemetry JS peer of propagator's TestOpenTelemetryJS: its
# packages, pinned by its package-lock.json, from the npm registry. Without
# Node.js the test skips, or fails with CI=true.
if command -v npm >/dev/null; then
	npm ci --prefix propagator/testdata/otel-js --no-audit --no-fund --loglevel=error ||
		echo "npm ci in propagator/testdata/otel-js failed: TestOpenTelemetryJS cannot run" >&2
fi

status=0
go test -race -timeout 30m "$@" ./... || status=$?
# asynctrack again without the race detector, which changes what it
# allocates; then the whole module without go:linkname (asynctrack's ctx
# path only), the fallback a Go release that drops the symbol would force.
go test -timeout 30m "$@" ./asynctrack/... || status=$?
go test -race -tags otelctx_nolinkname -timeout 30m "$@" ./... || status=$?
for dir in examples otelctxgrpc otelctxzap; do
	if [[ -f $dir/go.mod ]]; then
		(cd "$dir" && go test -race -timeout 30m "$@" ./...) || status=$?
	fi
done
exit "$status"
