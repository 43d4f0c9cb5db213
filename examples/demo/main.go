// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Command demo is the README's demo. It starts a frontend, a backend and the
// backend's upstream, and a gRPC greeter, on loopback (package
// twoservices), and sends them a burst of concurrent requests for different
// users. It leads with its verdict: each request, the user it carried, and
// whether every place its work ran saw that user and no other — goroutines,
// a plain go statement, a pool task, a timer, the backend over HTTP, the
// greeter and its goroutine over gRPC. Then it shows one request's span tree
// with its async work, numbered by execution ID as the verdict numbers the
// requests, a library's span started from context.Background() that joined
// the request (AmbientTracerProvider), and where its goroutines waited, as the live view (the
// exporter's /debug/async) saw them while the upstream held the request.
//
//	go run -C examples ./demo        # about 35 lines
//	go run -C examples ./demo -all   # every request's tree, and the services' addresses
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
	all := flag.Bool("all", false, "print every request's tree, and the services' addresses")
	jaeger := flag.String("jaeger", "http://127.0.0.1:16686", "Jaeger query URL to point to when exporting over OTLP")
	flag.Parse()
	slog.SetDefault(slog.New(slog.DiscardHandler)) // the services' log lines would interleave
	if err := run(context.Background(), os.Stdout, options{requests: *n, all: *all, jaeger: *jaeger}); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// options are the demo's flags.
type options struct {
	requests int
	all      bool
	jaeger   string
}

func run(ctx context.Context, out io.Writer, o options) (err error) {
	if o.requests < 1 || o.requests > 100 {
		return fmt.Errorf("the number of requests must be from 1 to 100, not %d", o.requests)
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
	if o.all {
		fmt.Fprintf(out, "frontend %s → backend %s → upstream %s; frontend → greeter grpc://%s\n\n",
			st.Frontend.URL, st.Backend.URL, st.Upstream.URL, st.Greeter.Target)
	}

	// The upstream holds every request until the live view has seen them
	// all waiting for it, at most a few seconds.
	release := st.UpstreamStandIn.Hold()
	defer release()
	answered := make(chan []result)
	start := time.Now()
	go func() { answered <- burst(ctx, st.Frontend.URL, o.requests) }()
	live, caught := catch(st.LiveView(), o.requests, 5*time.Second)
	release()
	results := <-answered
	elapsed := time.Since(start)

	// A goroutine may end a moment after its request has been answered:
	// wait for the requests' goroutines, tasks and timers before the spans
	// are read, so that each span has ended on its own.
	idle := waitIdle(reg, workers, 5*time.Second)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.Shutdown(sctx); err != nil { // flushes the spans
		return err
	}

	spans := newForest(sink.Recorder.Ended())
	leaks := st.UpstreamStandIn.Leaks()
	bad := verdict(out, results, elapsed, st.UpstreamStandIn.Requests(), leaks)
	if !idle {
		fmt.Fprintln(out, "some goroutines, tasks or timers still ran after 5s; their spans are marked unfinished")
	}
	for i, r := range results {
		if i > 0 && !o.all {
			break
		}
		fmt.Fprintln(out)
		r.tree(out, spans, live, caught)
	}
	if sink.Endpoint != "" {
		fmt.Fprintf(out, "\nSpans were exported over OTLP to %s. In Jaeger's query API:\n", sink.Endpoint)
		fmt.Fprintf(out, "  %s/api/traces?service=%s&limit=%d\n", o.jaeger, frontendName, o.requests)
		fmt.Fprintf(out, "  %s/api/v3/traces/%s   (one trace, as OTLP JSON)\n", o.jaeger, results[0].resp.TraceID)
	}
	if bad > 0 || leaks > 0 {
		return errors.New("some work saw another request's values, or baggage leaked")
	}
	return nil
}

// waitIdle waits until only the pool's workers are left alive, and reports
// whether that happened within d.
func waitIdle(reg *asynctrack.Registry, workers int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		n := reg.CountByType()
		if n[asynctrack.TypeGoroutine] <= workers && n[asynctrack.TypeTask] == 0 && n[asynctrack.TypeTimer] == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
