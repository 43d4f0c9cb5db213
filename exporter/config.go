// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"errors"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"net/url"
)

// defaultMaxSpansPerTrace is the default of [WithMaxSpansPerTrace]: enough for
// the fan-out of any reasonable request, few enough that a goroutine storm
// inside one trace cannot flood the span pipeline.
const defaultMaxSpansPerTrace = 1000

// config is what NewInstrumentation builds an Instrumentation from. It is immutable once built.
type config struct {
	tracerProvider   trace.TracerProvider
	meterProvider    metric.MeterProvider
	spanTypes        []string
	maxSpansPerTrace int
	jaegerURL        string
}

// newConfig applies opts to the documented defaults: the global tracer and
// meter providers, no span types, and 1000 spans per trace.
func newConfig(opts ...Option) config {
	c := config{
		tracerProvider:   otel.GetTracerProvider(),
		meterProvider:    otel.GetMeterProvider(),
		maxSpansPerTrace: defaultMaxSpansPerTrace,
	}
	for _, o := range opts {
		c = o.apply(c)
	}
	return c
}

// Option configures an [Instrumentation].
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (fn optionFunc) apply(c config) config { return fn(c) }

// WithTracerProvider sets the TracerProvider that async-resource spans are
// started with. The default is the global provider, otel.GetTracerProvider().
// A nil provider is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c config) config {
		if tp != nil {
			c.tracerProvider = tp
		}
		return c
	})
}

// WithMeterProvider sets the MeterProvider that the async-resource metrics
// are recorded with. The default is the global provider,
// otel.GetMeterProvider(). A nil provider is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c config) config {
		if mp != nil {
			c.meterProvider = mp
		}
		return c
	})
}

// WithSpanTypes selects the resource types (such as "goroutine", "task",
// "timer", "http.request") that get a span each. Calls add to the selection.
// By default no type is selected and the Instrumentation starts no spans.
func WithSpanTypes(types ...string) Option {
	return optionFunc(func(c config) config {
		c.spanTypes = append(c.spanTypes[:len(c.spanTypes):len(c.spanTypes)], types...)
		return c
	})
}

// WithMaxSpansPerTrace bounds the spans the Instrumentation starts in one
// trace.
// Resources beyond the bound get no span and are counted by the
// otelctx.async.spans.dropped metric. The default is 1000; n < 1 keeps it.
//
// A trace's count is kept while fewer than about 16,000 other traces start
// async spans after it, so memory stays bounded however many traces pass; a
// trace that outlives that many others may start up to n spans more.
func WithMaxSpansPerTrace(n int) Option {
	return optionFunc(func(c config) config {
		if n >= 1 {
			c.maxSpansPerTrace = n
		}
		return c
	})
}

// WithJaegerURL makes the HTML live-resource view link each trace ID to the
// Jaeger UI at base, such as "http://127.0.0.1:16686". A base that is not an
// absolute http or https URL is ignored and reported through otel.Handle.
func WithJaegerURL(base string) Option {
	return optionFunc(func(c config) config {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			otel.Handle(errors.New("exporter: WithJaegerURL wants an absolute http or https URL; ignored"))
			return c
		}
		c.jaegerURL = u.String()
		return c
	})
}
