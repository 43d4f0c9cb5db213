// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Command integrate is an existing OpenTelemetry service with otelctx added:
// the five-minute integration of the README, as a program that runs. Every
// otelctx line is marked "otelctx:".
//
// It listens on 127.0.0.1:8080 (-addr). Spans go over OTLP/HTTP as the
// standard OTEL_EXPORTER_OTLP_* variables say (to a local Jaeger:
// OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318).
//
//	curl -H 'baggage: user.id=42' 127.0.0.1:8080/hello
//	curl '127.0.0.1:6060/debug/async?format=text'   # the loopback-only debug listener
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/exporter"
	"github.com/otelctx/otelctx/propagator"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	debugAddr := flag.String("debug-addr", "127.0.0.1:6060", "listen address of the debug pages: keep it on loopback")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *debugAddr); err != nil {
		fmt.Fprintln(os.Stderr, "integrate:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, debugAddr string) error {
	spans, err := otlptracehttp.New(ctx)
	if err != nil {
		return err
	}
	handler, debug, shutdown := setup(sdktrace.NewBatchSpanProcessor(spans))
	defer func() { _ = shutdown(context.Background()) }()
	srv := &http.Server{Addr: addr, Handler: handler}
	debugSrv := &http.Server{Addr: debugAddr, Handler: debug}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
		_ = debugSrv.Shutdown(context.Background())
	}()
	errs := make(chan error, 2)
	for _, s := range []*http.Server{srv, debugSrv} {
		go func() {
			slog.Info("listening", "addr", s.Addr)
			if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errs <- err
				_ = srv.Shutdown(context.Background())
				_ = debugSrv.Shutdown(context.Background())
				return
			}
			errs <- nil
		}()
	}
	return errors.Join(<-errs, <-errs)
}

// setup is the service's OpenTelemetry setup, with spans its exporting
// processor, its handler and the handler of its debug listener.
func setup(spans sdktrace.SpanProcessor) (handler, debug http.Handler, shutdown func(context.Context) error) {
	// otelctx: trust only these keys from outside, and send user.id only to
	// our own hosts; the trace context flows everywhere.
	otel.SetTextMapPropagator(propagator.New(
		propagator.WithIngressAllow("user.id", "tenant.id"),
		propagator.WithLegacyHeader("userid", "user.id"),
		propagator.WithEgress(propagator.EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"user.id"}}),
	))
	tp := sdktrace.NewTracerProvider(
		// otelctx: request values on every span exported, added off the
		// request's path.
		sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(spans, baggagebridge.WithKeys("user.id", "tenant.id"))),
	)
	// otelctx: spans started by code that dropped its ctx join their
	// request's trace.
	otel.SetTracerProvider(baggagebridge.AmbientTracerProvider(tp))
	// otelctx: request values and span IDs on every log line. (Wrap your
	// own handler: wrapping the initial slog.Default().Handler() and making
	// it the default loops through the log package.)
	logs := slog.NewTextHandler(os.Stderr, nil)
	slog.SetDefault(slog.New(baggagebridge.NewLogHandler(logs, baggagebridge.WithKeys("user.id"))))
	// otelctx: goroutines and tasks as spans, metrics and a debug page.
	async := exporter.NewInstrumentation(exporter.WithSpanTypes(asynctrack.TypeGoroutine, asynctrack.TypeTask))

	mux := http.NewServeMux()
	mux.HandleFunc("/hello", hello)
	// otelctx: one async scope per request, values extracted under the policy.
	handler = otelhttp.NewHandler(baggagebridge.Middleware()(mux), "hello")
	// otelctx: the live-resource page, on a debug mux served on loopback
	// only: it tells what runs in the process.
	debugMux := http.NewServeMux()
	debugMux.Handle("/debug/async", async.Handler())

	return handler, debugMux, func(ctx context.Context) error {
		return errors.Join(async.Shutdown(ctx), tp.Shutdown(ctx))
	}
}

// outbound is the service's HTTP client. otelctx: NewTransport, innermost,
// writes each request's baggage for the host it is sent to, with the global
// propagator's rules, so baggage reaches only allowed hosts.
var outbound = &http.Client{Transport: otelhttp.NewTransport(propagator.NewTransport(http.DefaultTransport, nil))}

func hello(w http.ResponseWriter, r *http.Request) {
	done := make(chan string)
	asynctrack.Go(r.Context(), func(context.Context) { // otelctx: a tracked goroutine
		done <- greeting()
	})
	fmt.Fprintln(w, <-done)
}

// greeting takes no ctx, yet knows the request's user.
func greeting() string {
	user, ok := baggagebridge.Current("user.id") // otelctx: ambient read
	if !ok {
		return "hello, stranger"
	}
	slog.Info("greeting", "user", user)
	return "hello, user " + user
}
