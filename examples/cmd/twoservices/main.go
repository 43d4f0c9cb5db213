// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Command twoservices runs the frontend, the backend and the gRPC greeter
// of package twoservices on loopback until it is interrupted:
//
//	go run -C examples ./cmd/twoservices
//	curl -H 'userid: ada' http://127.0.0.1:8080/profile
//
// With OTEL_EXPORTER_OTLP_ENDPOINT set, the services export their spans
// there, as "frontend", "backend" and "greeter".
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
	"github.com/otelctx/otelctx/examples/twoservices"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the frontend's listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *addr); err != nil {
		fmt.Fprintln(os.Stderr, "twoservices:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, addr string) error {
	slog.SetDefault(slog.New(baggagebridge.NewLogHandler(slog.NewTextHandler(os.Stderr, nil))))
	st, err := twoservices.Start(ctx, twoservices.Config{FrontendAddr: addr})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "frontend on %s, backend on %s, upstream on %s, greeter (gRPC) on %s\n",
		st.Frontend.URL, st.Backend.URL, st.Upstream.URL, st.Greeter.Target)
	fmt.Fprintf(out, "  curl -H 'userid: ada' %s/profile\n", st.Frontend.URL)
	if st.Sink.Endpoint != "" {
		fmt.Fprintf(out, "spans go to %s\n", st.Sink.Endpoint)
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return st.Shutdown(sctx)
}
