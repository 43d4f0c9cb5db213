// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
//	go test -run '^$' -bench HTTPInProcess -benchmem -count 5 ./bench
func BenchmarkHTTPInProcess(b *testing.B) {
	for _, v := range Variants {
		b.Run(v, func(b *testing.B) {
			front, t := startInProcess(b, v)
			var sent atomic.Int64
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if code := serveInProcess(front, t.Header); code != http.StatusNoContent {
						b.Errorf("frontend answered %d", code)
						return
					}
					if sent.Add(1)%1024 == 0 && t.Exporter != nil {
						t.Exporter.Reset()
					}
				}
			})
			b.StopTimer()
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

func TestInProcess(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			front, tg := startInProcess(t, v)
			assert.Equal(t, http.StatusNoContent, serveInProcess(front, tg.Header))
			assert.Equal(t, http.StatusBadRequest, serveInProcess(front, http.Header{}), "the handler reads the values")
		})
	}
}

// startInProcess returns variant's frontend handler, calling its backend
// in process.
func startInProcess(tb testing.TB, v string) (http.Handler, *Target) {
	tb.Helper()
	t, err := newTarget(v)
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
