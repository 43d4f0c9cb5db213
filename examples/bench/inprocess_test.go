// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
)

// BenchmarkHTTPInProcess is BenchmarkHTTP without sockets: the same
// handlers, middleware, transports, propagators and span processors serve
// the same requests, but the client calls the frontend's handler directly,
// and the frontend's transport (an *http.Transport, so that every layer
// takes the path it takes on the wire) hands the request to the backend's
// handler through a registered protocol. What is left is what the
// instrumentation costs, without the network, the connection goroutines
// and the system calls that make up most of BenchmarkHTTP and most of its
// noise: the rows tell the parts apart where BenchmarkHTTP cannot.
//
// After the four setups come rows of full with one part left out or
// replaced; each one's difference to full is what that part costs:
//
//   - full-no-span-values: no WrapSpanProcessor, so the spans carry no values;
//   - full-start-values: NewSpanProcessor in its place, which sets the values
//     as attributes as the spans start, as baggagecopy does;
//   - full-no-middleware: no Middleware, so no scope per request;
//   - full-plain-go: go statements in place of asynctrack.Go;
//   - full-stock-propagators: the stock propagators, and no NewTransport.
//
// Rows ending in -new-ids send a request ID of its own with every request,
// as real traffic does, where the others send the same baggage every time,
// which otelctx's caches know after the first request.
//
// Measure on one core, where the CPU time per request (cpu-ns/op) varies
// least, in rounds of separate processes, in examples/:
//
//	go test -c -o bench.test ./bench
//	for i in $(seq 8); do GOMAXPROCS=1 ./bench.test -test.run '^$' -test.bench HTTPInProcess -test.benchmem -test.cpu 1 -test.benchtime 20000x; done
func BenchmarkHTTPInProcess(b *testing.B) {
	type row struct {
		name    string
		variant string
		without part
		newIDs  bool
	}
	var rows []row
	for _, v := range Variants {
		rows = append(rows, row{v, v, allParts, false})
	}
	rows = append(rows,
		row{"full-no-span-values", "full", noSpanValues, false},
		row{"full-start-values", "full", startValues, false},
		row{"full-no-middleware", "full", noMiddleware, false},
		row{"full-plain-go", "full", plainGo, false},
		row{"full-stock-propagators", "full", stockPropagators, false},
	)
	for _, v := range []string{"otelhttp", "baggagecopy", "full"} {
		rows = append(rows, row{v + "-new-ids", v, allParts, true})
	}
	rows = append(rows,
		row{"full-start-values-new-ids", "full", startValues, true},
		row{"full-stock-propagators-new-ids", "full", stockPropagators, true},
	)
	for _, r := range rows {
		b.Run(r.name, func(b *testing.B) {
			front, t := startInProcess(b, r.variant, r.without)
			var n atomic.Int64
			serveAll(b, t, func() error {
				h := t.Header
				if r.newIDs {
					h = t.withRequestID(fmt.Sprintf("r-%d", n.Add(1)))
				}
				if code := serveInProcess(front, h); code != http.StatusNoContent {
					return fmt.Errorf("frontend answered %d", code)
				}
				return nil
			})
		})
	}
}

func TestInProcess(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			front, tg := startInProcess(t, v, allParts)
			assert.Equal(t, http.StatusNoContent, serveInProcess(front, tg.Header))
			assert.Equal(t, http.StatusNoContent, serveInProcess(front, tg.withRequestID("r-2")), "a request ID of its own")
			assert.Equal(t, http.StatusBadRequest, serveInProcess(front, tg.withRequestID("2")), "the handler reads the request ID")
			assert.Equal(t, http.StatusBadRequest, serveInProcess(front, http.Header{}), "the handler reads the values")
		})
	}
}

// TestParts checks that each row of full with a part left out still serves
// the request, and leaves out what it says.
func TestParts(t *testing.T) {
	user := attribute.String(userKey, "ada")
	for _, tc := range []struct {
		without part
		values  bool // the spans carry the values
	}{
		{allParts, true},
		{noSpanValues, false},
		{startValues, true},
		{noMiddleware, true},
		{plainGo, true},
		{stockPropagators, true},
	} {
		front, tg := startInProcess(t, "full", tc.without)
		require.Equal(t, http.StatusNoContent, serveInProcess(front, tg.Header), "part %d", tc.without)
		require.NoError(t, tg.tp.ForceFlush(context.Background()))
		spans := tg.Exporter.GetSpans()
		require.Len(t, spans, 3, "part %d", tc.without)
		for _, s := range spans {
			assert.Equal(t, tc.values, slices.Contains(s.Attributes, user), "part %d, span %s", tc.without, s.Name)
		}
	}
}

// startInProcess returns variant's frontend handler, calling its backend
// in process; without, for full, leaves a part out.
func startInProcess(tb testing.TB, v string, without part) (http.Handler, *Target) {
	tb.Helper()
	t, err := newTarget(v, without)
	require.NoError(tb, err)
	tb.Cleanup(func() { assert.NoError(tb, t.Shutdown(context.Background())) })
	t.transport.RegisterProtocol("mem", inProcess{t.backendHandler()})
	return t.frontendHandler("backend.mem", "mem://backend.mem/"), t
}

// serveInProcess serves one request with header h and returns the status.
func serveInProcess(front http.Handler, h http.Header) int {
	req := httptest.NewRequest(http.MethodGet, "http://frontend.mem/", nil)
	req.Header = h.Clone()
	w := httptest.NewRecorder()
	front.ServeHTTP(w, req)
	return w.Code
}

// inProcess is a protocol that serves each request with h, as a server
// would receive it.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	in := httptest.NewRequest(r.Method, r.URL.String(), nil)
	in.Header = r.Header.Clone()
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, in)
	return w.Result(), nil
}
