// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package otelctxzap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.uber.org/goleak"
	"go.uber.org/zap/zapcore"

	"github.com/otelctx/otelctx/asynctrack"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// requireAmbient skips t in builds where code without a ctx sees nothing
// (the otelctx_nolinkname tag): t reads values ambiently.
func requireAmbient(t testing.TB) {
	t.Helper()
	s := asynctrack.NewStore[bool]()
	ok := false
	s.Run(context.Background(), true, func(context.Context) { ok, _ = s.Current() })
	if !ok {
		t.Skip("ambient lookups need the default build (this one has the otelctx_nolinkname tag)")
	}
}

// withValues returns ctx with the baggage members given as key, value pairs.
func withValues(t testing.TB, ctx context.Context, kv ...string) context.Context {
	t.Helper()
	var ms []baggage.Member
	for i := 0; i < len(kv); i += 2 {
		m, err := baggage.NewMemberRaw(kv[i], kv[i+1])
		require.NoError(t, err)
		ms = append(ms, m)
	}
	bag, err := baggage.New(ms...)
	require.NoError(t, err)
	return baggage.ContextWithBaggage(ctx, bag)
}

// encoderConfig is JSON without time or caller, so lines compare whole.
func encoderConfig() zapcore.EncoderConfig {
	return zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.LowercaseLevelEncoder}
}

// jsonCore returns a core writing JSON lines at level and above, and a
// function that returns the lines written so far, decoded.
func jsonCore(t testing.TB, level zapcore.Level) (zapcore.Core, func() []map[string]any) {
	w := &lockedBuffer{}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(encoderConfig()), w, level)
	return core, func() []map[string]any {
		var out []map[string]any
		for _, line := range w.lines() {
			var m map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &m), line)
			out = append(out, m)
		}
		return out
	}
}

type lockedBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	syncs int
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *lockedBuffer) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.syncs++
	return nil
}

func (w *lockedBuffer) lines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.TrimSpace(w.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
