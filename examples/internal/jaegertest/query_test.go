// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package jaegertest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/examples/internal/jaegertest"
)

// The testdata files are responses of Jaeger v2.13.0 to one trace over two
// services, a root span and a child with two events and a link, whose trace
// ID has zero high bits.
var (
	traceID, _ = trace.TraceIDFromHex("00000000000000008448eb211c80319c")
	rootID, _  = trace.SpanIDFromHex("b7ad6b7169203331")
	childID, _ = trace.SpanIDFromHex("00f067aa0ba902b7")
)

func wantSpans(v1 bool) []jaegertest.Span {
	root := jaegertest.Span{
		TraceID: traceID, SpanID: rootID, Name: "GET /hello", Service: "svc-front",
		Attributes: map[string]any{
			"request.user": "ada",
			"empty":        "",
			"zero":         int64(0),
			"no":           false,
			"big":          int64(1<<53 + 1),
			"tags":         []any{"a", "b"},
		},
	}
	child := jaegertest.Span{
		TraceID: traceID, SpanID: childID, ParentID: rootID, Name: "goroutine", Service: "svc-back",
		Attributes: map[string]any{"async.id": int64(12), "ratio": 0.5},
		Events: []jaegertest.Event{
			{Name: "before", Attributes: map[string]any{"async.id": int64(12)}},
			{Name: "after", Attributes: map[string]any{}},
		},
	}
	if v1 {
		// The v1 model renders slices as JSON and adds its own tags.
		root.Attributes["tags"] = `["a","b"]`
		for k, v := range map[string]any{
			"span.kind": "server", "otel.scope.name": "demo", "otel.scope.version": "1.0",
			"error": true, "otel.status_code": "ERROR", "otel.status_description": "boom",
		} {
			root.Attributes[k] = v
		}
		child.Attributes["span.kind"] = "internal"
		child.Attributes["otel.scope.name"] = "demo"
	}
	return []jaegertest.Span{root, child}
}

// fakeJaeger serves the query API from testdata, answering the first
// notFound requests for a trace with 404 as Jaeger does before it is stored.
func fakeJaeger(t *testing.T, v1File string, notFound int) (requests *atomic.Int32) {
	t.Helper()
	requests = new(atomic.Int32)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/services", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"data":["svc-front","svc-back"]}`)
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		assert.Equal(t, "svc-back", r.URL.Query().Get("service"))
		http.ServeFile(w, r, v1File)
	})
	mux.HandleFunc("GET /api/v3/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, traceID.String(), r.PathValue("id"))
		if requests.Add(1) <= int32(notFound) {
			http.Error(w, `{"error":{"httpCode":404,"message":"No traces found"}}`, http.StatusNotFound)
			return
		}
		http.ServeFile(w, r, "testdata/v3_trace.json")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Setenv(jaegertest.QueryEnv, srv.URL)
	return requests
}

func TestTraces(t *testing.T) {
	fakeJaeger(t, "testdata/v1_traces.json", 0)
	traces := jaegertest.Traces(t, "svc-back", 2)
	require.Len(t, traces, 1)
	assert.Equal(t, traceID, traces[0].ID, "short v1 trace ID padded")
	assert.ElementsMatch(t, wantSpans(true), traces[0].Spans)
	assert.Equal(t, []string{"svc-back", "svc-front"}, traces[0].Services())
}

func TestTraceByIDPollsUntilStored(t *testing.T) {
	requests := fakeJaeger(t, "testdata/v1_traces.json", 3)
	tr := jaegertest.TraceByID(t, traceID, 2)
	assert.Equal(t, int32(4), requests.Load(), "three 404s, then the trace")
	assert.Equal(t, traceID, tr.ID)
	assert.ElementsMatch(t, wantSpans(false), tr.Spans)

	child, ok := tr.Span("goroutine")
	require.True(t, ok)
	assert.Equal(t, childID, child.SpanID)
	_, ok = tr.Span("missing")
	assert.False(t, ok)
}

func TestMalformedResponseFailsAtOnce(t *testing.T) {
	bad := t.TempDir() + "/bad.json"
	require.NoError(t, os.WriteFile(bad, []byte(`{"data":[{"traceID":"8448eb211c80319c","spans":[
		{"traceID":"8448eb211c80319c","spanID":"b7ad6b7169203331","operationName":"x","processID":"p1",
		 "tags":[{"key":"k","type":"complex","value":1}]}],"processes":{"p1":{"serviceName":"svc-back"}}}]}`), 0o600))
	requests := fakeJaeger(t, bad, 0)

	tb := run(t, func(tb testing.TB) { jaegertest.Traces(tb, "svc-back", 1) })
	assert.Contains(t, tb.fatal, `tag "k": unknown type "complex"`)
	assert.Equal(t, int32(1), requests.Load(), "no retry of a response that cannot change")
}

func TestUnavailable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		name, ci, query string
		wantSkip        bool
	}{
		{name: "unset", ci: "", query: "", wantSkip: true},
		{name: "unreachable", ci: "false", query: closed.URL, wantSkip: true},
		{name: "unset in CI", ci: "true", query: ""},
		{name: "unreachable in CI", ci: "true", query: closed.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv(jaegertest.QueryEnv, tc.query)
			tb := run(t, func(tb testing.TB) {
				jaegertest.Query(tb)
				t.Error("Query returned without Jaeger")
			})
			if tc.wantSkip {
				assert.Contains(t, tb.skip, "run ./scripts/test.sh")
				assert.Empty(t, tb.fatal)
			} else {
				assert.Contains(t, tb.fatal, "in CI Jaeger must run")
				assert.Empty(t, tb.skip)
			}
		})
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of acting
// on the real test, so that the outcome a helper chose can be asserted.
type recorder struct {
	testing.TB
	skip, fatal string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine, as the testing package
// runs a test, so that Skipf and Fatalf can end it.
func run(t *testing.T, f func(testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}
