// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelconf

import (
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestFromConfigurationFile runs the setup in a process of its own, whose
// environment holds the policy as a deployment's would (the propagator is
// built when the process starts): forged baggage is dropped at the edge, the
// allowed value reaches spans and log records through the bridge's
// processors, and only the granted host would get it.
func TestFromConfigurationFile(t *testing.T) {
	if os.Getenv("OTELCTXTEST_OTELCONF") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestFromConfigurationFile$", "-test.v")
		cmd.Env = append(os.Environ(), "OTELCTXTEST_OTELCONF=1",
			"OTELCTX_INGRESS_ALLOW=user.id", "OTELCTX_EGRESS=*.internal=user.id", "OTEL_PROPAGATORS=")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		assert.Contains(t, string(out), "--- PASS: TestFromConfigurationFile")
		return
	}
	spans := tracetest.NewSpanRecorder()
	logs := &records{}
	sdk, err := Setup("otelconf.yaml", []string{"user.id", "role"},
		[]sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(spans)},
		[]sdklog.LoggerProviderOption{sdklog.WithProcessor(sdklog.NewSimpleProcessor(logs))})
	require.NoError(t, err)
	defer func() { _ = sdk.Shutdown(context.Background()) }()

	p := sdk.Propagator()
	ctx := p.Extract(context.Background(), propagation.MapCarrier{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"baggage":     "user.id=42,role=admin",
	})
	ctx, span := sdk.TracerProvider().Tracer("test").Start(ctx, "request")
	var r otellog.Record
	r.SetBody(attribute.StringValue("handled"))
	sdk.LoggerProvider().Logger("test").Emit(ctx, r)
	span.End()

	require.Len(t, spans.Ended(), 1)
	assert.Equal(t, map[string]string{"user.id": "42"}, attrMap(spans.Ended()[0].Attributes()), "role was forged: dropped at the edge")
	logs.mu.Lock()
	require.Len(t, logs.got, 1)
	var logAttrs []attribute.KeyValue
	logs.got[0].WalkAttributes(func(kv attribute.KeyValue) bool { logAttrs = append(logAttrs, kv); return true })
	logs.mu.Unlock()
	assert.Equal(t, map[string]string{"user.id": "42"}, attrMap(logAttrs))

	out := propagation.MapCarrier{}
	p.Inject(ctx, out)
	assert.Empty(t, out["baggage"], "no destination granted: no baggage")
	assert.NotEmpty(t, out["traceparent"])
}

type records struct {
	mu  sync.Mutex
	got []sdklog.Record
}

func (r *records) Export(_ context.Context, rs []sdklog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range rs {
		r.got = append(r.got, x.Clone())
	}
	return nil
}
func (*records) Shutdown(context.Context) error   { return nil }
func (*records) ForceFlush(context.Context) error { return nil }

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}
