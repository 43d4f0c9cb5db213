// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Command userservice runs the seed article's service (package userservice)
// on loopback, in front of a local stand-in for its upstream site, until it
// is interrupted:
//
//	go run -C examples ./cmd/userservice
//	curl -H 'userid: ada' http://127.0.0.1:8080/user
//
// Log lines carry the request's trace ID and user. With
// OTEL_EXPORTER_OTLP_ENDPOINT set, spans are exported there.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/examples/internal/server"
	"github.com/otelctx/otelctx/examples/telemetry"
	"github.com/otelctx/otelctx/examples/userservice"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	upstream := flag.String("upstream", "", "URL the service checks before answering (default: a local stand-in)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *addr, *upstream); err != nil {
		fmt.Fprintln(os.Stderr, "userservice:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, addr, upstream string) error {
	slog.SetDefault(slog.New(baggagebridge.NewLogHandler(slog.NewTextHandler(os.Stderr, nil))))

	if upstream == "" {
		up, err := server.Start("127.0.0.1:0", &userservice.Upstream{})
		if err != nil {
			return err
		}
		defer up.Shutdown(context.Background())
		upstream = up.URL
	}
	db := userservice.NewDB() // opened by the first request that needs it
	defer db.Close()

	sink := telemetry.NewSink()
	tel, err := telemetry.NewService(ctx, "userservice", sink, telemetry.Propagator())
	if err != nil {
		return err
	}
	exp := telemetry.NewAsyncExporter()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := telemetry.ShutdownAll(sctx, exp, tel); err != nil {
			slog.Error("telemetry shutdown", "err", err)
		}
	}()

	srv, err := server.Start(addr, userservice.New(tel, db, upstream).Handler())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "userservice on %s (upstream %s)\n", srv.URL, upstream)
	fmt.Fprintf(out, "  curl -H 'userid: ada' %s/user\n", srv.URL)
	if sink.Endpoint != "" {
		fmt.Fprintf(out, "spans go to %s\n", sink.Endpoint)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
