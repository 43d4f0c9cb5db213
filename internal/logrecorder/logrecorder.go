// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package logrecorder keeps what an OpenTelemetry Logs SDK exports, for the
// tests of this repository's modules.
package logrecorder

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// Exporter is an sdklog.Exporter that keeps a copy of every record exported
// to it. It is safe for concurrent use.
type Exporter struct {
	mu      sync.Mutex
	records []sdklog.Record
}

var _ sdklog.Exporter = (*Exporter)(nil)

// Export keeps a copy of each record.
func (e *Exporter) Export(_ context.Context, rs []sdklog.Record) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range rs {
		e.records = append(e.records, r.Clone())
	}
	return nil
}

// Shutdown does nothing.
func (*Exporter) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (*Exporter) ForceFlush(context.Context) error { return nil }

// ByBody returns the records exported so far, by body; the last of a body
// wins.
func (e *Exporter) ByBody() map[string]*sdklog.Record {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]*sdklog.Record, len(e.records))
	for i := range e.records {
		out[e.records[i].Body().AsString()] = &e.records[i]
	}
	return out
}

// Attrs returns r's attributes as strings by key; nil for a nil r.
func Attrs(r *sdklog.Record) map[string]string {
	if r == nil {
		return nil
	}
	out := map[string]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		out[string(kv.Key)] = kv.Value.Emit()
		return true
	})
	return out
}
