// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Tests in this package do not run in parallel: a hook sees every resource
// created in the process while it is enabled, so each test owns the process
// while its Instrumentation listens, and waits for the work it starts.

// waitFor bounds every poll in these tests.
const waitFor = 10 * time.Second

// sdk is a real tracer and meter provider with in-memory readers.
type sdk struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newSDK(t testing.TB, opts ...sdktrace.TracerProviderOption) *sdk {
	s := &sdk{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	s.tp = sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(s.spans),
	}, opts...)...)
	s.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.reader))
	t.Cleanup(func() {
		require.NoError(t, s.tp.Shutdown(context.Background()))
		require.NoError(t, s.mp.Shutdown(context.Background()))
	})
	return s
}

// exporter returns an Instrumentation on s's providers, shut down at the end of the
// test.
func (s *sdk) exporter(t testing.TB, opts ...Option) *Instrumentation {
	e := NewInstrumentation(append([]Option{WithTracerProvider(s.tp), WithMeterProvider(s.mp)}, opts...)...)
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e
}

// collect reads the metrics of the Instrumentation's scope. It may be called from a
// require.Eventually condition, so it reports errors without FailNow.
func collect(t testing.TB, r *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Error(err)
	}
	out := make(map[string]metricdata.Aggregation)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// sum returns the value of a sum metric's point with attribute kv, and
// whether there is one.
func sum(data map[string]metricdata.Aggregation, name string, kv attribute.KeyValue) (int64, bool) {
	s, ok := data[name].(metricdata.Sum[int64])
	if !ok {
		return 0, false
	}
	for _, p := range s.DataPoints {
		if v, ok := p.Attributes.Value(kv.Key); ok && v == kv.Value {
			return p.Value, true
		}
	}
	return 0, false
}

// histogram returns the point of the lifetime histogram with attribute kv.
func histogram(data map[string]metricdata.Aggregation, kv attribute.KeyValue) (metricdata.HistogramDataPoint[float64], bool) {
	h, ok := data[metricLifetime].(metricdata.Histogram[float64])
	if !ok {
		return metricdata.HistogramDataPoint[float64]{}, false
	}
	for _, p := range h.DataPoints {
		if v, ok := p.Attributes.Value(kv.Key); ok && v == kv.Value {
			return p, true
		}
	}
	return metricdata.HistogramDataPoint[float64]{}, false
}
