// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Command load sends a bounded load to the benchmark's handler (package
// bench) on loopback, in one setup or all, and prints requests per second
// and latency percentiles:
//
//	go run -C examples ./cmd/load -requests 20000 -concurrency 16 -duration 20s
//	go run -C examples ./cmd/load -variant full
//
// Each setup stops after -requests requests or -duration, whichever comes
// first. The servers are started by the command itself, on 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/otelctx/otelctx/examples/bench"
)

// Bounds of the flags.
const (
	maxRequests    = 1_000_000
	maxConcurrency = 256
	maxDuration    = 5 * time.Minute
)

func main() {
	variant := flag.String("variant", "", fmt.Sprintf("setup to load, one of %q (default: all, in turn)", bench.Variants))
	requests := flag.Int("requests", 10_000, fmt.Sprintf("requests per setup (at most %d)", maxRequests))
	concurrency := flag.Int("concurrency", 16, fmt.Sprintf("concurrent clients (at most %d)", maxConcurrency))
	duration := flag.Duration("duration", 30*time.Second, fmt.Sprintf("time limit per setup (at most %s)", maxDuration))
	flag.Parse()
	if err := run(os.Stdout, *variant, *requests, *concurrency, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, variant string, requests, concurrency int, duration time.Duration) error {
	switch {
	case requests < 1 || requests > maxRequests:
		return fmt.Errorf("-requests must be from 1 to %d", maxRequests)
	case concurrency < 1 || concurrency > maxConcurrency:
		return fmt.Errorf("-concurrency must be from 1 to %d", maxConcurrency)
	case duration <= 0 || duration > maxDuration:
		return fmt.Errorf("-duration must be positive and at most %s", maxDuration)
	}
	variants := bench.Variants
	if variant != "" {
		variants = []string{variant}
	}
	fmt.Fprintf(out, "%-9s %9s %9s %9s %9s %9s %7s\n", "setup", "requests", "req/s", "p50", "p90", "p99", "errors")
	for _, v := range variants {
		st, err := load(v, requests, concurrency, duration)
		if err != nil {
			return err
		}
		n := len(st.latencies)
		fmt.Fprintf(out, "%-9s %9d %9.0f %9s %9s %9s %7d\n", v, n, float64(n)/st.elapsed.Seconds(),
			st.percentile(50), st.percentile(90), st.percentile(99), st.errors)
		if st.firstErr != nil {
			fmt.Fprintf(out, "          first error: %v\n", st.firstErr)
		}
	}
	return nil
}

type stats struct {
	errors    int
	firstErr  error
	elapsed   time.Duration
	latencies []time.Duration
}

func (s *stats) percentile(p int) time.Duration {
	if len(s.latencies) == 0 {
		return 0
	}
	return s.latencies[(len(s.latencies)-1)*p/100].Round(time.Microsecond)
}

// load runs one setup and sends it up to requests requests from concurrency
// clients, for up to d.
func load(variant string, requests, concurrency int, d time.Duration) (*stats, error) {
	t, err := bench.Start(variant)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: concurrency}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var (
		next atomic.Int64
		mu   sync.Mutex
		st   = &stats{latencies: make([]time.Duration, 0, requests)}
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for ctx.Err() == nil && next.Add(1) <= int64(requests) {
				begin := time.Now()
				err := t.Do(ctx, client)
				lat := time.Since(begin)
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
					return // the time limit, not a failure
				}
				mu.Lock()
				st.latencies = append(st.latencies, lat)
				if err != nil {
					st.errors++
					if st.firstErr == nil {
						st.firstErr = err
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st.elapsed = time.Since(start)
	slices.Sort(st.latencies)
	tr.CloseIdleConnections()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	return st, t.Shutdown(sctx)
}
