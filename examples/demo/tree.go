// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/examples/telemetry"
)

// forest is the recorded spans by trace.
type forest map[trace.TraceID][]sdktrace.ReadOnlySpan

func newForest(spans []sdktrace.ReadOnlySpan) forest {
	f := forest{}
	for _, s := range spans {
		id := s.SpanContext().TraceID()
		f[id] = append(f[id], s)
	}
	return f
}

// print writes the span tree of the trace with the hex ID traceID, each
// span followed by where its goroutines waited (see liveView.waits).
func (f forest) print(out io.Writer, traceID string, waits map[string][]string) {
	id, err := trace.TraceIDFromHex(traceID)
	spans := f[id]
	if err != nil || len(spans) == 0 {
		fmt.Fprintf(out, "no spans recorded for trace %q\n", traceID)
		return
	}
	inTrace := map[trace.SpanID]bool{}
	children := map[trace.SpanID][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		inTrace[s.SpanContext().SpanID()] = true
		children[s.Parent().SpanID()] = append(children[s.Parent().SpanID()], s)
	}
	for _, kids := range children {
		slices.SortFunc(kids, func(a, b sdktrace.ReadOnlySpan) int { return a.StartTime().Compare(b.StartTime()) })
	}
	var walk func(s sdktrace.ReadOnlySpan, parentService, lead, next string)
	walk = func(s sdktrace.ReadOnlySpan, parentService, lead, next string) {
		fmt.Fprintf(out, "%s%s\n", lead, describe(s, parentService))
		kids := children[s.SpanContext().SpanID()]
		for _, w := range waits[waitKey(s)] {
			if len(kids) > 0 {
				fmt.Fprintf(out, "%s│  ⏸ %s\n", next, w)
			} else {
				fmt.Fprintf(out, "%s   ⏸ %s\n", next, w)
			}
		}
		for i, k := range kids {
			if i == len(kids)-1 {
				walk(k, service(s), next+"└─ ", next+"   ")
			} else {
				walk(k, service(s), next+"├─ ", next+"│  ")
			}
		}
	}
	for _, s := range spans {
		if !inTrace[s.Parent().SpanID()] { // a root, or a span whose parent was not recorded
			walk(s, "", "", "")
		}
	}
}

// describe renders one span: its name, its service where it changes, its
// async resource, the user it carries and its duration.
func describe(s sdktrace.ReadOnlySpan, parentService string) string {
	var b strings.Builder
	b.WriteString(s.Name())
	if svc := service(s); svc != parentService {
		fmt.Fprintf(&b, " [%s]", svc)
	}
	attrs := attribute.NewSet(s.Attributes()...)
	if id, ok := attrs.Value(attribute.Key("async.id")); ok {
		trigger, _ := attrs.Value(attribute.Key("async.trigger_id"))
		fmt.Fprintf(&b, " async #%d ← #%d", id.AsInt64(), trigger.AsInt64())
	}
	if s.SpanKind() == trace.SpanKindClient { // where the call went
		if host, ok := attrs.Value("server.address"); ok {
			port, _ := attrs.Value("server.port")
			fmt.Fprintf(&b, " → %s", net.JoinHostPort(host.AsString(), strconv.FormatInt(port.AsInt64(), 10)))
		}
	}
	if v, ok := attrs.Value(telemetry.UserKey); ok {
		fmt.Fprintf(&b, " %s=%s", telemetry.UserKey, v.AsString())
	}
	if v, ok := attrs.Value("async.unfinished"); ok && v.AsBool() {
		b.WriteString(" (unfinished)")
	}
	fmt.Fprintf(&b, "  %s", cmp.Or(s.EndTime().Sub(s.StartTime()).Round(10*time.Microsecond), 0))
	return b.String()
}

// waitKey is the key of liveView.waits that shows under span s.
func waitKey(s sdktrace.ReadOnlySpan) string {
	attrs := attribute.NewSet(s.Attributes()...)
	if id, ok := attrs.Value(attribute.Key("async.id")); ok {
		return fmt.Sprintf("async:%d", id.AsInt64())
	}
	return "span:" + s.SpanContext().SpanID().String()
}

func service(s sdktrace.ReadOnlySpan) string {
	v, _ := s.Resource().Set().Value("service.name")
	return v.AsString()
}
