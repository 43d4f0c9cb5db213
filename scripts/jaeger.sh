#!/usr/bin/env bash
# Builds, starts and stops the local Jaeger (v2, in-memory storage) that the
# tests and the demo export to. Every listener is on 127.0.0.1 (see
# scripts/jaeger-config.yaml):
#
#   OTLP gRPC   127.0.0.1:4317      OTLP HTTP  http://127.0.0.1:4318
#   query HTTP  http://127.0.0.1:16686 (/api/traces, /api/v3/traces/{id})
#   query gRPC  127.0.0.1:16685     health     http://127.0.0.1:13133/status
#   Jaeger's own metrics            http://127.0.0.1:8888/metrics
#
# Usage: scripts/jaeger.sh build|start|stop|status
#
# The binary, its PID file and its log live in .bin/ (git-ignored). The binary
# is rebuilt only when tools/go.mod or tools/go.sum is newer than it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$root/.bin/jaeger"
pid_file="$root/.bin/jaeger.pid"
log_file="$root/.bin/jaeger.log"
config="$root/scripts/jaeger-config.yaml"
health_port=13133
start_timeout=60 # seconds

build() {
	if [[ -x "$bin" && "$bin" -nt "$root/tools/go.mod" && "$bin" -nt "$root/tools/go.sum" ]]; then
		return
	fi
	echo "jaeger: building $bin (a cold build takes minutes)" >&2
	mkdir -p "$root/.bin"
	# Build beside the target and rename, so an interrupted build never leaves
	# a binary that looks up to date.
	go build -C "$root/tools" -o "$bin.tmp" github.com/jaegertracing/jaeger/cmd/jaeger
	mv "$bin.tmp" "$bin"
}

# pid prints the PID of the Jaeger this script started, if it still runs.
pid() {
	[[ -f "$pid_file" ]] || return 1
	local p
	p=$(<"$pid_file")
	kill -0 "$p" 2>/dev/null || return 1
	# Guard against a recycled PID where /proc tells us the command name.
	if [[ -r "/proc/$p/comm" && "$(<"/proc/$p/comm")" != jaeger ]]; then
		return 1
	fi
	echo "$p"
}

# healthy reports whether the health endpoint answers 200, using bash's
# /dev/tcp so that no HTTP client needs to be installed.
healthy() {
	local status
	{ exec 3<>"/dev/tcp/127.0.0.1/$health_port"; } 2>/dev/null || return 1
	printf 'GET /status HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	read -r -t 2 _ status _ <&3 || true
	exec 3<&-
	[[ "$status" == 200 ]]
}

start() {
	local p
	if p=$(pid); then
		echo "jaeger: already running (pid $p)" >&2
		return
	fi
	# Another Jaeger (say, from another checkout) would answer our health
	# checks while ours fails to bind its ports.
	if healthy; then
		echo "jaeger: 127.0.0.1:$health_port is already served by a process this script did not start; stop it first" >&2
		return 1
	fi
	build
	"$bin" --config "file:$config" </dev/null >"$log_file" 2>&1 &
	p=$!
	echo "$p" >"$pid_file"
	local deadline=$((SECONDS + start_timeout))
	until healthy && kill -0 "$p" 2>/dev/null; do
		if ! kill -0 "$p" 2>/dev/null; then
			echo "jaeger: exited during startup; last lines of $log_file:" >&2
			tail -n 30 "$log_file" >&2
			rm -f "$pid_file"
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "jaeger: not ready after ${start_timeout}s; last lines of $log_file:" >&2
			tail -n 30 "$log_file" >&2
			stop
			return 1
		fi
		sleep 0.2
	done
	echo "jaeger: ready (pid $p, log $log_file)" >&2
}

stop() {
	local p
	if ! p=$(pid); then
		rm -f "$pid_file"
		return
	fi
	kill "$p"
	# Jaeger shuts down within a second or two; do not wait forever.
	for _ in {1..50}; do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "jaeger: pid $p ignored SIGTERM, killing it" >&2
		kill -KILL "$p"
	fi
	rm -f "$pid_file"
	echo "jaeger: stopped" >&2
}

status() {
	local p
	if p=$(pid) && healthy; then
		echo "jaeger: running (pid $p), query API http://127.0.0.1:16686"
	else
		echo "jaeger: not running"
		return 1
	fi
}

case "${1:-}" in
build | start | stop | status) "$1" ;;
*)
	echo "usage: $0 build|start|stop|status" >&2
	exit 2
	;;
esac
