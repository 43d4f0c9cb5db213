// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Command demo is the README's demo. It starts a frontend, a backend and the
// backend's upstream, and a gRPC greeter, on loopback (package
// twoservices), sends them a burst of concurrent requests for different
// users, and prints, per request, the user that every piece of its work
// saw — goroutines, a plain go statement, a pool task, a timer, the backend
// over HTTP, the greeter and its goroutine over gRPC — and the request's
// span tree with its async resources.
//
//	go run -C examples ./demo
//
// Spans are kept in memory by default. With OTEL_EXPORTER_OTLP_ENDPOINT set
// (e.g. http://127.0.0.1:4318, the local Jaeger of scripts/jaeger.sh) they
// are exported there too, and the demo says where to look.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/examples/telemetry"
	"github.com/otelctx/otelctx/examples/twoservices"
)

// Service names, as Jaeger lists them.
const (
	frontendName = "demo-frontend"
	backendName  = "demo-backend"
	greeterName  = "demo-greeter"
)

func main() {
	n := flag.Int("n", 8, "number of concurrent requests (1 to 100)")
	jaeger := flag.String("jaeger", "http://127.0.0.1:16686", "Jaeger query URL to point to when exporting over OTLP")
	flag.Parse()
	slog.SetDefault(slog.New(slog.DiscardHandler)) // the services' log lines would interleave
	if err := run(context.Background(), os.Stdout, *n, *jaeger); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, requests int, jaeger string) (err error) {
	if requests < 1 || requests > 100 {
		return fmt.Errorf("the number of requests must be from 1 to 100, not %d", requests)
	}
	// The registry tells when the requests' async work has ended.
	reg := asynctrack.NewRegistry().Enable()
	defer reg.Disable()

	sink := telemetry.NewSink()
	if sink.Recorder == nil { // exporting over OTLP: keep a copy to print
		sink.Recorder = tracetest.NewSpanRecorder()
	}
	st, err := twoservices.Start(ctx, twoservices.Config{Sink: sink, FrontendName: frontendName, BackendName: backendName, GreeterName: greeterName})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = errors.Join(err, st.Shutdown(sctx))
	}()
	workers := reg.CountByType()[asynctrack.TypeGoroutine] // the frontend pool's

	fmt.Fprintf(out, "frontend %s → backend %s → upstream %s\n", st.Frontend.URL, st.Backend.URL, st.Upstream.URL)
	fmt.Fprintf(out, "frontend → greeter grpc://%s\n", st.Greeter.Target)
	fmt.Fprintf(out, "sending %d concurrent requests, each with a userid header ", requests)
	start := time.Now()
	results := burst(ctx, st.Frontend.URL, requests, func() { fmt.Fprint(out, ".") })
	fmt.Fprintf(out, " %d answered in %s\n", len(results), time.Since(start).Round(time.Millisecond))

	// A goroutine may end a moment after its request has been answered:
	// wait for the requests' goroutines, tasks and timers before the spans
	// are read, so that each span has ended on its own.
	fmt.Fprint(out, "waiting for the requests' goroutines, tasks and timers to end ")
	if waitIdle(reg, workers, 5*time.Second, func() { fmt.Fprint(out, ".") }) {
		fmt.Fprintln(out, "done")
	} else {
		fmt.Fprintln(out, "some still run; their spans are marked unfinished")
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.Shutdown(sctx); err != nil { // flushes the spans
		return err
	}

	fmt.Fprintln(out, "\nFor each request: what its work saw without being handed a ctx, what the backend")
	fmt.Fprintln(out, "found, what the greeter saw over gRPC, and its spans; \"async #5 ← #3\" is a")
	fmt.Fprintln(out, "goroutine, task or timer and the execution that started it (#3: the request itself).")
	fmt.Fprintln(out)
	spans := newForest(sink.Recorder.Ended())
	bad := 0
	for i, r := range results {
		if !r.print(out, i+1, spans) {
			bad++
		}
	}
	leaks := st.UpstreamStandIn.Leaks()
	fmt.Fprintf(out, "%d requests, %d mismatches; the upstream got %d requests, %d of them with baggage or a userid header.\n",
		len(results), bad, st.UpstreamStandIn.Requests(), leaks)
	if sink.Endpoint != "" {
		fmt.Fprintf(out, "\nSpans were exported over OTLP to %s. In Jaeger's query API:\n", sink.Endpoint)
		fmt.Fprintf(out, "  %s/api/traces?service=%s&limit=%d\n", jaeger, frontendName, requests)
		fmt.Fprintf(out, "  %s/api/v3/traces/%s   (one trace, as OTLP JSON)\n", jaeger, results[0].resp.TraceID)
	}
	if bad > 0 || leaks > 0 {
		return errors.New("some work saw another request's values, or baggage leaked")
	}
	return nil
}

// waitIdle waits until only the pool's workers are left alive, calling tick
// every 50ms, and reports whether that happened within d.
func waitIdle(reg *asynctrack.Registry, workers int, d time.Duration, tick func()) bool {
	deadline := time.Now().Add(d)
	for {
		n := reg.CountByType()
		if n[asynctrack.TypeGoroutine] <= workers && n[asynctrack.TypeTask] == 0 && n[asynctrack.TypeTimer] == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		tick()
		time.Sleep(50 * time.Millisecond)
	}
}
