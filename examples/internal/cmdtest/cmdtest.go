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
	"sync"
	"testing"
	"time"

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
