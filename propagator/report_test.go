// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelctx/otelctx/internal/report"
)

// counts returns the sums of the named counter by reason.
func counts(t *testing.T, r *sdkmetric.ManualReader, name string) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, scopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			require.True(t, ok, "%s is a %T", name, m.Data)
			assert.True(t, sum.IsMonotonic)
			for _, dp := range sum.DataPoints {
				v, ok := dp.Attributes.Value(attribute.Key("reason"))
				require.True(t, ok)
				got[v.AsString()] += dp.Value
			}
		}
	}
	return got
}

func meteredPropagator(t *testing.T, opts ...Option) (*sdkmetric.ManualReader, func(...Option) *propagator) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	return reader, func(more ...Option) *propagator {
		return New(append(append([]Option{WithMeterProvider(mp)}, opts...), more...)...).(*propagator)
	}
}

func TestErrorsAndDropsCounted(t *testing.T) {
	captureErrors(t)
	reader, newP := meteredPropagator(t)
	p := newP(WithIngressDeny("denied"), WithMaxMemberBytes(20), WithLegacyHeader("x-user", "user"))

	extract(p, "traceparent", "00-nothex")
	extract(p, "traceparent", suiteTraceparent, "traceparent", suiteTraceparent)
	extract(p, "traceparent", suiteTraceparent, "tracestate", "FOO=1")
	extract(p, "traceparent", suiteTraceparent, "tracestate", barMembers(1, 33))
	extract(p, "traceparent", suiteTraceparent, "tracestate", "a=1,a=2")
	extract(p, "baggage", "a b=1,ok=1,c=\"q\",denied=1,big="+strings.Repeat("v", 20)+",u=%FF")
	extract(newP(), "baggage", members(66, "v")) // a second propagator on the same provider

	assert.Equal(t, map[string]int64{
		"traceparent.malformed":       1,
		"traceparent.multiple":        1,
		"tracestate.malformed":        1,
		"tracestate.too_many_members": 1,
		"tracestate.duplicate_key":    1,
		"baggage.malformed_member":    1, // once per Extract, for two members
		"baggage.invalid_utf8":        1,
		"ingress.limit.member_bytes":  1,
		"ingress.limit.members":       1,
	}, counts(t, reader, "otelctx.propagation.errors"))
	assert.Equal(t, map[string]int64{
		"baggage.malformed_member":   2,
		"ingress.denied":             1,
		"ingress.limit.member_bytes": 1,
		"ingress.limit.members":      2,
	}, counts(t, reader, "otelctx.baggage.dropped"))
}

func TestEgressDropsCounted(t *testing.T) {
	reader, newP := meteredPropagator(t)
	p := newP(WithEgress(EgressRule{Hosts: []string{"*.internal"}, Keys: []string{"a", "b"}}))
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, "a=1,b=2,c=3"))
	inject(p, ctx)                   // no destination: Inject counts nothing
	injectTo(p, ctx, "")             // unknown: 3 denied
	injectTo(p, ctx, "svc.internal") // c denied
	assert.Equal(t, map[string]int64{"egress.denied": 4}, counts(t, reader, "otelctx.baggage.dropped"))
	assert.Empty(t, counts(t, reader, "otelctx.propagation.errors"))
}

func TestErrorsReportedAtBoundedRate(t *testing.T) {
	errs := captureErrors(t)
	reader, newP := meteredPropagator(t)
	p := newP()
	p.rep.now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	const secret = "4bf92f3577b34da6a3ce929d0e0e473X"
	for range 100 {
		extract(p, "traceparent", "00-"+secret+"-00f067aa0ba902b7-01")
	}
	extract(p, "traceparent", suiteTraceparent, "tracestate", "BAD=1")
	assert.Equal(t, map[string]int64{"traceparent.malformed": 100, "tracestate.malformed": 1},
		counts(t, reader, "otelctx.propagation.errors"), "every occurrence is counted")
	got := errs()
	require.Len(t, got, 2, "one report per reason and interval")
	assert.Contains(t, got[0].Error(), "traceparent.malformed")
	assert.Contains(t, got[1].Error(), "tracestate.malformed")
	for _, err := range got {
		assert.NotContains(t, err.Error(), secret, "reports never quote the input")
	}
}

func TestErrorsReportedAgainAfterInterval(t *testing.T) {
	errs := captureErrors(t)
	_, newP := meteredPropagator(t)
	p := newP()
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.rep.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	for range 5 {
		extract(p, "traceparent", "junk")
	}
	require.Len(t, errs(), 1)
	mu.Lock()
	clock = clock.Add(report.Interval - 1)
	mu.Unlock()
	extract(p, "traceparent", "junk")
	require.Len(t, errs(), 1, "still within the interval")
	mu.Lock()
	clock = clock.Add(1)
	mu.Unlock()
	extract(p, "traceparent", "junk")
	got := errs()
	require.Len(t, got, 2)
	assert.Contains(t, got[1].Error(), "5 more since the last report")
}

func TestReasonsNamed(t *testing.T) {
	for r := reason(1); r < numReasons; r++ {
		assert.NotEmpty(t, r.String(), "reason %d", r)
		if r.isError() {
			assert.NotEmpty(t, reasonMessages[r], "reason %s", r)
		}
	}
}
