// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package jaegertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Polling bounds: spans are usually queryable within 200 ms of export.
const (
	pollTimeout  = 20 * time.Second
	pollInterval = 50 * time.Millisecond
)

// Trace is a trace read back from Jaeger, reduced to what tests assert on.
type Trace struct {
	ID    trace.TraceID
	Spans []Span
}

// Span is one span of a [Trace].
//
// Attribute values are string, bool, int64 or float64. Through the v3 API
// slices are []any and maps map[string]any; the v1 API (/api/traces) renders
// them as JSON strings and adds Jaeger's own tags (span.kind,
// otel.scope.name, otel.status_code, ...).
type Span struct {
	TraceID    trace.TraceID
	SpanID     trace.SpanID
	ParentID   trace.SpanID // invalid (zero) for a root span
	Name       string       // the OTel span name, Jaeger's operationName
	Service    string       // service.name of the span's resource, Jaeger's process
	Attributes map[string]any
	Events     []Event
}

// Event is a span event, a log in Jaeger's v1 API. A span's events are in
// time order; the order of events with the same timestamp (microseconds in
// the v1 API) is not defined.
type Event struct {
	Name       string
	Attributes map[string]any
}

// Span returns the first span named name.
func (tr Trace) Span(name string) (Span, bool) {
	i := slices.IndexFunc(tr.Spans, func(s Span) bool { return s.Name == name })
	if i < 0 {
		return Span{}, false
	}
	return tr.Spans[i], true
}

// Services returns the sorted service names of the trace's spans.
func (tr Trace) Services() []string {
	var out []string
	for _, s := range tr.Spans {
		out = append(out, s.Service)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Traces polls the v1 API, /api/traces?service=service, until the traces it
// returns hold at least minSpans spans together, and returns them. Whole
// traces are returned, including spans of other services. Jaeger returns at
// most 100 traces per query: give each test its own service name. Traces
// fails the test after 20 s, and skips or fails it as [Query] does.
func Traces(t testing.TB, service string, minSpans int) []Trace {
	t.Helper()
	u := Query(t) + "/api/traces?" + url.Values{"service": {service}}.Encode()
	var traces []Trace
	poll(t, func() error {
		var resp v1Response
		if err := getJSON(u, &resp); err != nil {
			return err
		}
		var err error
		if traces, err = resp.traces(); err != nil {
			return err
		}
		if n := spanCount(traces); n < minSpans {
			return fmt.Errorf("%w: service %q: %d traces with %d spans, want %d spans", errNotYet, service, len(traces), n, minSpans)
		}
		return nil
	})
	return traces
}

// TraceByID polls the v3 API, /api/v3/traces/{id}, until the trace holds at
// least minSpans spans, and returns it. It fails the test after 20 s, and
// skips or fails it as [Query] does.
func TraceByID(t testing.TB, id trace.TraceID, minSpans int) Trace {
	t.Helper()
	u := Query(t) + "/api/v3/traces/" + id.String()
	var tr Trace
	poll(t, func() error {
		var resp v3Response
		if err := getJSON(u, &resp); err != nil {
			return err
		}
		var err error
		if tr, err = resp.trace(id); err != nil {
			return err
		}
		if n := len(tr.Spans); n < minSpans {
			return fmt.Errorf("%w: trace %s: %d spans, want %d", errNotYet, id, n, minSpans)
		}
		return nil
	})
	return tr
}

// errNotYet marks a result that may change on the next poll: the spans
// are not all stored yet.
var errNotYet = errors.New("not yet")

// poll calls try until it returns nil. It fails the test at once on an error
// other than errNotYet, and with try's last error once pollTimeout has passed.
func poll(t testing.TB, try func() error) {
	t.Helper()
	deadline := time.Now().Add(pollTimeout)
	for {
		err := try()
		switch {
		case err == nil:
			return
		case !errors.Is(err, errNotYet):
			t.Fatalf("jaegertest: %v", err)
		case time.Now().After(deadline):
			t.Fatalf("jaegertest: gave up after %v: %v", pollTimeout, err)
		}
		time.Sleep(pollInterval)
	}
}

func getJSON(u string, v any) error {
	resp, err := client.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Bounded read: a broken server must not make a test buffer without end.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound: // the v3 API before the trace is stored
		return fmt.Errorf("%w: GET %s: %s", errNotYet, u, resp.Status)
	default:
		return fmt.Errorf("GET %s: %s: %.200s", u, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: decoding: %w", u, err)
	}
	return nil
}

func spanCount(traces []Trace) int {
	n := 0
	for _, tr := range traces {
		n += len(tr.Spans)
	}
	return n
}
