// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package twoservices

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/examples/internal/jaegertest"
	"github.com/otelctx/otelctx/examples/telemetry"
	"github.com/otelctx/otelctx/examples/thirdparty"
)

// TestJaeger runs the HTTP services and the gRPC greeter against the real
// Jaeger that scripts/test.sh starts, exports over OTLP and reads the trace
// back through Jaeger's query API.
func TestJaeger(t *testing.T) {
	jaegertest.Query(t) // skips, or fails in CI, without Jaeger
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	frontend, backend, greeter := "frontend-"+run, "backend-"+run, "greeter-"+run
	sink := &telemetry.Sink{Exporter: func(context.Context) (sdktrace.SpanExporter, error) {
		return jaegertest.Exporter(t), nil
	}}
	reg := telemetry.NewLiveResources()
	defer reg.Close()
	st, c := start(t, Config{Sink: sink, FrontendName: frontend, BackendName: backend, GreeterName: greeter})

	code, r := profile(t, c, st, "userid", "grace")
	require.Equal(t, 200, code, r.Error)
	wantSeen(t, r, "grace")
	// The backend's lookup goroutine may still be returning after the
	// response (the greeter's has returned before its RPC's answer). Wait until only the frontend pool's two workers are left,
	// so that every async span ends on its own before the exporter stops.
	require.Eventually(t, func() bool {
		n := reg.CountByType()
		return n[asynctrack.TypeGoroutine] == 2 && n[asynctrack.TypeTask] == 0 && n[asynctrack.TypeTimer] == 0
	}, 5*time.Second, 5*time.Millisecond)
	// Flush: the spans are batched.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, st.Shutdown(ctx))

	// The frontend: server, the third-party library's, HTTP client, gRPC
	// client, five group goroutines, a task, a timer. The backend: server,
	// upstream client, query, lookup goroutine. The greeter: server,
	// goroutine.
	const spans = 17
	traces := jaegertest.Traces(t, frontend, spans)
	require.Len(t, traces, 1, "one request, one trace")
	tr := traces[0]
	assert.Equal(t, r.TraceID, tr.ID.String())
	assert.Equal(t, []string{backend, frontend, greeter}, tr.Services(), "one trace spanning the HTTP services and the gRPC service")
	assert.Len(t, tr.Spans, spans)

	find := func(service, name string) []jaegertest.Span {
		var out []jaegertest.Span
		for _, s := range tr.Spans {
			if s.Service == service && (s.Name == name || s.Attributes["async.type"] == name) {
				out = append(out, s)
			}
		}
		return out
	}
	one := func(service, name string) jaegertest.Span {
		t.Helper()
		got := find(service, name)
		require.Len(t, got, 1, "%s spans named %q", service, name)
		return got[0]
	}

	fe := one(frontend, "GET /profile")
	assert.False(t, fe.ParentID.IsValid(), "the frontend's span is the root")
	audit := one(frontend, thirdparty.SpanName)
	assert.Equal(t, fe.SpanID, audit.ParentID, "the span a library started from context.Background() joins the request, under its span")
	assert.Equal(t, "grace", audit.Attributes[telemetry.UserKey], "with its values")
	byID := func(id trace.SpanID) (jaegertest.Span, bool) {
		for _, s := range tr.Spans {
			if s.SpanID == id {
				return s, true
			}
		}
		return jaegertest.Span{}, false
	}
	// The nesting over two services: the client span started in a goroutine
	// is the goroutine span's child, and the downstream server span is the
	// client span's child.
	call := one(frontend, "HTTP GET")
	caller, ok := byID(call.ParentID)
	require.True(t, ok, "the client span's parent is in the trace")
	assert.Equal(t, "goroutine", caller.Attributes["async.type"], "the call nests under the goroutine that made it")
	assert.Equal(t, fe.SpanID, caller.ParentID)
	be := one(backend, "GET /user")
	assert.Equal(t, call.SpanID, be.ParentID, "the backend continues the frontend's trace")
	query := one(backend, "SELECT users")
	lookup, ok := byID(query.ParentID)
	require.True(t, ok, "the query's parent is in the trace")
	assert.Equal(t, "goroutine", lookup.Attributes["async.type"], "the query nests under the backend's lookup goroutine")
	assert.Equal(t, be.SpanID, lookup.ParentID)
	// Over gRPC: the RPC's client span, started in another goroutine of the
	// request, and the greeter's server span, its child.
	rpc := one(frontend, GreetMethod[1:])
	assert.Equal(t, "client", rpc.Attributes["span.kind"])
	assert.Equal(t, "grpc", rpc.Attributes["rpc.system.name"])
	rpcCaller, ok := byID(rpc.ParentID)
	require.True(t, ok, "the RPC's parent is in the trace")
	assert.Equal(t, "goroutine", rpcCaller.Attributes["async.type"], "the RPC nests under the goroutine that made it")
	assert.Equal(t, fe.SpanID, rpcCaller.ParentID)
	assert.NotEqual(t, caller.SpanID, rpcCaller.SpanID, "the two calls run in goroutines of their own")
	gr := one(greeter, GreetMethod[1:])
	assert.Equal(t, "server", gr.Attributes["span.kind"])
	assert.Equal(t, "grpc", gr.Attributes["rpc.system.name"])
	assert.Equal(t, rpc.SpanID, gr.ParentID, "the greeter continues the frontend's trace")

	// The request's value on every side: the backend and the greeter got
	// it as baggage, over HTTP and over gRPC.
	for _, s := range []jaegertest.Span{fe, call, be, query, rpc, gr} {
		assert.Equal(t, "grace", s.Attributes[telemetry.UserKey], "%s %s", s.Service, s.Name)
	}

	// Async-resource spans under the span current where each resource was
	// created (the request's or the RPC's server span, or the async span
	// of the goroutine that created it), with their lifecycle events.
	for _, tc := range []struct {
		service, typ string
		n            int
		parent       jaegertest.Span
	}{
		{frontend, "goroutine", 5, fe},
		{frontend, "task", 1, fe},
		{frontend, "timer", 1, fe},
		{backend, "goroutine", 1, be},
		{greeter, "goroutine", 1, gr},
	} {
		got := find(tc.service, tc.typ)
		require.Len(t, got, tc.n, "%s %s spans", tc.service, tc.typ)
		for _, s := range got {
			parent := tc.parent.SpanID
			for _, a := range tr.Spans {
				if a.Service == tc.service && a.Attributes["async.id"] != nil && a.Attributes["async.id"] == s.Attributes["async.trigger_id"] {
					parent = a.SpanID
				}
			}
			assert.Equal(t, parent, s.ParentID, "%s %s", tc.service, tc.typ)
			assert.Equal(t, tc.typ, s.Attributes["async.type"])
			assert.NotZero(t, s.Attributes["async.id"])
			assert.NotZero(t, s.Attributes["async.trigger_id"])
			assert.Equal(t, "grace", s.Attributes[telemetry.UserKey])
			assert.NotContains(t, s.Attributes, "async.unfinished")
			var events []string
			for _, e := range s.Events {
				events = append(events, e.Name)
			}
			assert.ElementsMatch(t, []string{"async.before", "async.after"}, events)
		}
	}
	// The task was submitted by one of the request's goroutines.
	task := one(frontend, "task")
	var submitter bool
	for _, g := range find(frontend, "goroutine") {
		submitter = submitter || g.Attributes["async.id"] == task.Attributes["async.trigger_id"]
	}
	assert.True(t, submitter, "the task's async.trigger_id is one of the request's goroutines")
}
