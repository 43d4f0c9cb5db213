// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package cmdtest runs the examples' commands in tests.
package cmdtest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run calls run in a goroutine, waits until its output matches the
// regular expression re, whose first group is returned (a URL, say), and
// stops run, wanting no error, when the test ends.
func Run(t *testing.T, re string, run func(ctx context.Context, out *Output) error) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &Output{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, out) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	m := regexp.MustCompile(re)
	var got []string
	require.Eventually(t, func() bool {
		got = m.FindStringSubmatch(out.String())
		return got != nil
	}, 10*time.Second, 10*time.Millisecond, "output matching %q", re)
	return got[1]
}

// Output is an io.Writer safe for concurrent use.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// NoOTLP clears the OTLP endpoint variables for the test, so that a command
// exports to no collector whatever the environment says.
func NoOTLP(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
}

// Get sends a GET for url with one request header, on a transport of its
// own that it closes so that no idle connection outlives the test, and
// returns the status code and body.
func Get(t *testing.T, url, header, value string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set(header, value)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// Soak sends GET url with the userid header set to one of a few users from
// 8 goroutines, warm requests first, then up to n more or until limit has
// passed, and returns how many of those it sent and how much the live heap
// grew from after the warm-up to the end. Every answer must be 200 OK.
func Soak(t *testing.T, url string, warm, n int, limit time.Duration) (sent int, growth int64) {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	users := []string{"ada", "ken", "grace", "edsger", "barbara", "margaret"}
	burst := func(count int, deadline time.Time) int {
		var next, done atomic.Int64
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(count) && time.Now().Before(deadline); i = next.Add(1) {
					req, err := http.NewRequest(http.MethodGet, url, nil)
					if !assert.NoError(t, err) {
						return
					}
					req.Header.Set("userid", users[i%int64(len(users))])
					resp, err := c.Do(req)
					if !assert.NoError(t, err) {
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if !assert.Equal(t, http.StatusOK, resp.StatusCode) {
						return
					}
					done.Add(1)
				}
			})
		}
		wg.Wait()
		return int(done.Load())
	}
	heap := func() int64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return int64(m.HeapAlloc)
	}
	start := time.Now()
	require.Equal(t, warm, burst(warm, start.Add(limit)), "the warm-up finished within %s", limit)
	before := heap()
	sent = burst(n, start.Add(limit))
	return sent, heap() - before
}
