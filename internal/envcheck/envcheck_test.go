// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package envcheck

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUnread(t *testing.T) {
	assert.NoError(t, Unread([]string{"PATH=/bin", "OTEL_PROPAGATORS=tracecontext"}, false, false), "no OTELCTX_ variable")
	assert.NoError(t, Unread([]string{"OTELCTX_EGRESS=*=a"}, true, false), "read")
	err := Unread([]string{"otelctx_egress=*=a", "OTEL_PROPAGATORS=tracecontext,Otelctx"}, false, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "otelctx_egress is set, but no otelctx propagator reads it")
	assert.Contains(t, err.Error(), `names "Otelctx", which autoprop does not match`)
	err = Unread([]string{"OTELCTX_EGRESS=*=a", "OTEL_PROPAGATORS=otelctx"}, false, false)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "import github.com/otelctx/otelctx/propagator/autoprop")
	err = Unread([]string{"OTELCTX_DEBUG_DROPS=true"}, false, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "built in code without propagator.WithEnv()")
	assert.NoError(t, Unread([]string{"OTELCTX_DEBUG_DROPS=true"}, true, true), "built and read")
}

func TestServedChecksOnce(t *testing.T) {
	var got []error
	prev := otel.GetErrorHandler()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { got = append(got, err) }))
	t.Cleanup(func() { otel.SetErrorHandler(prev); Reset(nil) })

	Reset(func() []string { return []string{"OTELCTX_INGRESS_ALLOW=a"} })
	Served()
	Served()
	assert.Len(t, got, 1)

	got = nil
	Reset(func() []string { return []string{"OTELCTX_INGRESS_ALLOW=a"} })
	MarkRead()
	Served()
	assert.Empty(t, got)
}
