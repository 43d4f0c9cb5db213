package baggagebridge_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

type user struct{ Name string }

func TestLocal(t *testing.T) {
	current := baggagebridge.NewLocal[*user]()
	ctx, err := baggagebridge.Set(context.Background(), "user.id", "42")
	require.NoError(t, err)
	u := &user{Name: "Ada"}
	ctx = current.With(ctx, u)

	got, ok := current.Value(ctx)
	require.True(t, ok)
	assert.Same(t, u, got)
	assert.Equal(t, "user.id=42", header(ctx), "a local value is no baggage member")
	assert.Equal(t, 1, baggage.FromContext(ctx).Len())
	_, ok = current.Value(hop(ctx))
	assert.False(t, ok, "a local value does not propagate")

	// Set after With keeps the local value, and the other way round.
	ctx, err = baggagebridge.Set(ctx, "tenant", "t1")
	require.NoError(t, err)
	got, _ = current.Value(ctx)
	assert.Same(t, u, got)
	ctx = current.With(ctx, &user{Name: "Grace"})
	v, _ := baggagebridge.Get(ctx, "tenant")
	assert.Equal(t, "t1", v)

	// Ambient, in a plain goroutine.
	var wg sync.WaitGroup
	var name, tenant string
	asynctrack.Run(ctx, func(context.Context) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if u, ok := current.Current(); ok {
				name = u.Name
			}
			tenant, _ = baggagebridge.Current("tenant")
		}()
	})
	wg.Wait()
	assert.Equal(t, "Grace", name)
	assert.Equal(t, "t1", tenant)
}
