// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Command workerpool serves package workerpool on loopback until it is
// interrupted: every request submits tasks to one shared pool of two
// workers, and each task reports the request it saw.
//
//	go run -C examples ./cmd/workerpool
//	curl -H 'X-Request-Id: r1' 'http://127.0.0.1:8080/?n=4'
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/otelctx/otelctx/examples/internal/server"
	"github.com/otelctx/otelctx/examples/workerpool"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	workers := flag.Int("workers", 2, "worker goroutines in the pool")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *addr, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "workerpool:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, addr string, workers int) error {
	s := workerpool.New(workers)
	defer s.Close()
	srv, err := server.Start(addr, s)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "workerpool on %s, %d workers\n", srv.URL, workers)
	fmt.Fprintf(out, "  curl -H 'X-Request-Id: r1' '%s/?n=4'\n", srv.URL)
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
