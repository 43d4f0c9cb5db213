// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelhandle_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel"

	_ "github.com/otelctx/otelctx/internal/otelhandle"
	"github.com/otelctx/otelctx/internal/report"
)

func TestReportsReachOtelHandle(t *testing.T) {
	var mu sync.Mutex
	var got []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })

	want := errors.New("bounded")
	var b report.Bound // a fresh one: no state from an earlier run
	b.Report(time.Now(), 1, func(int64) error { return want })
	b.Report(time.Now(), 1, func(int64) error { return errors.New("held back") })
	report.Handle(errors.New("once"))

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []error{want, errors.New("once")}, got)
}
