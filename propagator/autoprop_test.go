// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/trace"
)

func TestAutopropRegistered(t *testing.T) {
	p, err := autoprop.TextMapPropagator("otelctx")
	require.NoError(t, err)
	assert.IsType(t, &propagator{}, p)
}

func TestAutopropFromEnvironment(t *testing.T) {
	t.Setenv("OTEL_PROPAGATORS", "otelctx")
	p := autoprop.NewTextMapPropagator()
	require.IsType(t, &propagator{}, p)
	sc := trace.SpanContextFromContext(extract(p, "traceparent", suiteTraceparent))
	assert.Equal(t, suiteTraceID, sc.TraceID().String())
}

func TestRegisterTwice(t *testing.T) {
	// A second copy of this package, linked in under another import path,
	// runs the same init: it must neither panic nor replace the first.
	before, err := autoprop.TextMapPropagator("otelctx")
	require.NoError(t, err)
	assert.NotPanics(t, register)
	assert.NotPanics(t, register)
	after, err := autoprop.TextMapPropagator("otelctx")
	require.NoError(t, err)
	assert.Same(t, before, after)
	// Without the check, registering again panics.
	assert.Panics(t, func() { autoprop.RegisterTextMapPropagator("otelctx", New()) })
}
