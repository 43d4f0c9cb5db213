// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package logattr names the attributes under which baggagebridge's log
// handler and otelctxzap's core write the IDs of the span a line was
// logged under, so that both write the same keys.
package logattr

const (
	TraceID = "trace_id"
	SpanID  = "span_id"
)
