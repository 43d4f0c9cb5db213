// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/otelctx/otelctx/asynctrack"
)

// brokenMeter fails the way a MeterProvider may: no histogram, a callback
// that cannot be registered, or one that cannot be unregistered.
type brokenMeter struct {
	noop.Meter
	registerErr, unregisterErr error
}

func (m brokenMeter) Float64Histogram(string, ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return nil, errors.New("no histogram")
}

func (m brokenMeter) RegisterCallback(metric.Callback, ...metric.Observable) (metric.Registration, error) {
	if m.registerErr != nil {
		return nil, m.registerErr
	}
	return brokenRegistration{err: m.unregisterErr}, nil
}

type brokenRegistration struct {
	noop.Registration
	err error
}

func (r brokenRegistration) Unregister() error { return r.err }

type brokenProvider struct {
	noop.MeterProvider
	m brokenMeter
}

func (p brokenProvider) Meter(string, ...metric.MeterOption) metric.Meter { return p.m }

// handled captures what is reported through otel.Handle during a test.
func handled(t *testing.T) func() []error {
	var mu sync.Mutex
	var errs []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}))
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return func() []error {
		mu.Lock()
		defer mu.Unlock()
		return append([]error(nil), errs...)
	}
}

// Instrument errors cannot be acted on by the caller of New: they are
// reported through otel.Handle, and the Instrumentation works on without them.
func TestMetricErrorsReported(t *testing.T) {
	reported := handled(t)
	errRegister := errors.New("cannot register")
	e := NewInstrumentation(WithMeterProvider(brokenProvider{m: brokenMeter{registerErr: errRegister}}))
	errs := reported()
	require.Len(t, errs, 1, "one report for New")
	assert.ErrorIs(t, errs[0], errRegister)
	assert.ErrorContains(t, errs[0], "no histogram")

	asynctrack.NewResource(context.Background(), "job", nil).Destroy() // the no-op histogram stands in
	assert.NoError(t, e.Shutdown(context.Background()), "nothing to unregister")
	assert.Len(t, reported(), 1)
}

// Shutdown returns what its caller can act on: an Unregister error.
func TestShutdownReturnsUnregisterError(t *testing.T) {
	handled(t) // New's histogram error is not this test's subject
	errUnregister := errors.New("cannot unregister")
	e := NewInstrumentation(WithMeterProvider(brokenProvider{m: brokenMeter{unregisterErr: errUnregister}}))
	assert.ErrorIs(t, e.Shutdown(context.Background()), errUnregister)
	assert.NoError(t, e.Shutdown(context.Background()))
}
