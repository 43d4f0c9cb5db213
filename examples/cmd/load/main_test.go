// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestLoad(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(&out, "", 50, 4, 30*time.Second))
	t.Log("\n" + out.String())
	for _, v := range []string{"nethttp", "otelhttp", "full"} {
		assert.Regexp(t, regexp.MustCompile(`(?m)^`+v+` +50 +\d+ +\S+ +\S+ +\S+ +0$`), out.String())
	}
}

// The duration bounds the run whatever the request count.
func TestLoadStopsAtTheDuration(t *testing.T) {
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(&out, "nethttp", 1_000_000, 2, 200*time.Millisecond))
	assert.Less(t, time.Since(start), 20*time.Second)
	assert.Regexp(t, `(?m)^nethttp +\d+ .* 0$`, out.String())
	assert.NotContains(t, out.String(), "1000000")
}

func TestLoadBounds(t *testing.T) {
	for _, tc := range []struct {
		variant               string
		requests, concurrency int
		d                     time.Duration
		err                   string
	}{
		{"", 0, 1, time.Second, "-requests must be from 1 to 1000000"},
		{"", 1_000_001, 1, time.Second, "-requests must be from 1 to 1000000"},
		{"", 1, 0, time.Second, "-concurrency must be from 1 to 256"},
		{"", 1, 257, time.Second, "-concurrency must be from 1 to 256"},
		{"", 1, 1, 0, "-duration must be positive and at most 5m0s"},
		{"", 1, 1, time.Hour, "-duration must be positive and at most 5m0s"},
		{"grpc", 1, 1, time.Second, `bench: unknown variant "grpc", want one of ["nethttp" "otelhttp" "baggagecopy" "full"]`},
	} {
		assert.EqualError(t, run(&bytes.Buffer{}, tc.variant, tc.requests, tc.concurrency, tc.d), tc.err)
	}
}
