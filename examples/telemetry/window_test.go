// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package telemetry

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func TestWindowKeepsTheMostRecentSpans(t *testing.T) {
	w := NewWindow(3)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(w))
	defer func() { require.NoError(t, tp.Shutdown(context.Background())) }()
	names := func() []string {
		var out []string
		for _, s := range w.Ended() {
			out = append(out, s.Name())
		}
		return out
	}
	for i := range 2 {
		_, s := tp.Tracer("test").Start(context.Background(), fmt.Sprint(i))
		s.End()
	}
	assert.Equal(t, []string{"0", "1"}, names())
	for i := 2; i < 7; i++ {
		_, s := tp.Tracer("test").Start(context.Background(), fmt.Sprint(i))
		s.End()
	}
	assert.Equal(t, []string{"4", "5", "6"}, names(), "oldest first, older ones dropped")
}
