// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package autoprop

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestSelectedByEnvironment(t *testing.T) {
	t.Setenv("OTEL_PROPAGATORS", "otelctx")
	p := autoprop.NewTextMapPropagator()
	sc := trace.SpanContextFromContext(p.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent}))
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID().String())
}

func TestRegisterTwice(t *testing.T) {
	before, err := autoprop.TextMapPropagator(Name)
	require.NoError(t, err)
	assert.NotPanics(t, register)
	after, err := autoprop.TextMapPropagator(Name)
	require.NoError(t, err)
	assert.Same(t, before, after, "the first registration stays")
}
