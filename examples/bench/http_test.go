// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// BenchmarkHTTP measures whole requests through a loopback frontend and
// backend in each setup (see the package documentation), all in the same
// run so that the ratios can be read: full/otelhttp is what this project
// adds to otelhttp, full/baggagecopy what it costs against the stock way to
// the same values on the same spans, otelhttp/nethttp what otelhttp costs.
// req/s counts requests answered per second of wall time by concurrent
// clients, and
// cpu-ns/op the CPU time, user and system, the whole process (clients,
// both servers, exporter) spent per request, which depends less on what
// else the machine runs.
//
// Rows ending in -new-ids send a request ID of its own with every request,
// as real traffic does, where the others send the same baggage every time,
// which otelctx's caches know after the first request.
//
//	go test -run '^$' -bench HTTP -benchmem -count 5 ./bench
func BenchmarkHTTP(b *testing.B) {
	run := func(name, v string, newIDs bool) {
		b.Run(name, func(b *testing.B) {
			t, client := start(b, v, &http.Transport{MaxIdleConnsPerHost: 256})
			b.SetParallelism(4) // clients per core: keep the servers busy
			var n atomic.Int64
			serveAll(b, t, func() error {
				if newIDs {
					return t.send(context.Background(), client, t.withRequestID(fmt.Sprintf("r-%d", n.Add(1))))
				}
				return t.Do(context.Background(), client)
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
	for _, v := range Variants {
		run(v, v, false)
	}
	for _, v := range []string{"otelhttp", "baggagecopy", "full"} {
		run(v+"-new-ids", v, true)
	}
}

// serveAll makes b.N requests with do from concurrent clients, and reports
// the CPU time the process spent per request (cpu-ns/op).
func serveAll(b *testing.B, t *Target, do func() error) {
	// The in-memory exporter keeps every span: reset it now and then, so
	// that the heap, and with it the cost of GC, does not grow with b.N.
	var sent atomic.Int64
	b.ReportAllocs()
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := do(); err != nil {
				b.Error(err)
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
}

// TestVariants checks that every setup does the work the benchmark
// measures: the handler reads both values (or answers 400) and calls the
// backend (or answers 502), and the OpenTelemetry setups record one trace
// across both servers.
func TestVariants(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			tg, client := start(t, v, &http.Transport{})
			require.NoError(t, tg.Do(context.Background(), client))
			if v == "nethttp" {
				assert.Nil(t, tg.Exporter)
				return
			}

			// The frontend's span ends after its response is written.
			var spans tracetest.SpanStubs
			require.Eventually(t, func() bool {
				require.NoError(t, tg.tp.ForceFlush(context.Background()))
				spans = tg.Exporter.GetSpans()
				return len(spans) >= 3
			}, 5*time.Second, 5*time.Millisecond)
			require.Len(t, spans, 3, "frontend server, client, backend server")
			byKind := map[trace.SpanKind]int{}
			for _, s := range spans {
				byKind[s.SpanKind]++
				assert.Equal(t, spans[0].SpanContext.TraceID(), s.SpanContext.TraceID(), "one trace")
				user := attribute.String("user.id", "ada")
				if v == "full" || v == "baggagecopy" {
					assert.Contains(t, s.Attributes, user, "the span processor")
				} else {
					assert.NotContains(t, s.Attributes, user)
				}
			}
			assert.Equal(t, map[trace.SpanKind]int{trace.SpanKindServer: 2, trace.SpanKindClient: 1}, byKind)
		})
	}
}

func TestMissingValues(t *testing.T) {
	for _, v := range Variants {
		t.Run(v, func(t *testing.T) {
			tg, client := start(t, v, &http.Transport{})
			tg.Header = http.Header{}
			err := tg.Do(context.Background(), client)
			assert.EqualError(t, err, "400 Bad Request: request values \"\", \"\", want \"ada\", \"r-…\"\n")
		})
	}
}

// start starts variant v and a client over tr for it; both stop when tb
// ends.
func start(tb testing.TB, v string, tr *http.Transport) (*Target, *http.Client) {
	tb.Helper()
	t, err := Start(v)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		tr.CloseIdleConnections()
		assert.NoError(tb, t.Shutdown(context.Background()))
	})
	return t, &http.Client{Transport: tr}
}

func TestUnknownVariant(t *testing.T) {
	_, err := Start("grpc")
	assert.EqualError(t, err, `bench: unknown variant "grpc", want one of ["nethttp" "otelhttp" "baggagecopy" "full"]`)
}
