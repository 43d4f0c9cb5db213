// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package jaegertest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"
)

// v1Response is the body of GET /api/traces: Jaeger's v1 JSON model.
type v1Response struct {
	Data   []v1Trace `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

type v1Trace struct {
	TraceID   string   `json:"traceID"`
	Spans     []v1Span `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
}

type v1Span struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []v1KeyValue `json:"tags"`
	Logs []struct {
		Timestamp int64        `json:"timestamp"` // µs
		Fields    []v1KeyValue `json:"fields"`
	} `json:"logs"`
	ProcessID string `json:"processID"`
}

type v1KeyValue struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

func (r v1Response) traces() ([]Trace, error) {
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("jaeger error %d: %s", r.Errors[0].Code, r.Errors[0].Msg)
	}
	out := make([]Trace, 0, len(r.Data))
	for _, t := range r.Data {
		id, err := parseTraceID(t.TraceID)
		if err != nil {
			return nil, err
		}
		tr := Trace{ID: id, Spans: make([]Span, 0, len(t.Spans))}
		for _, s := range t.Spans {
			span := Span{Name: s.OperationName}
			if span.TraceID, err = parseTraceID(s.TraceID); err != nil {
				return nil, err
			}
			if span.SpanID, err = parseSpanID(s.SpanID); err != nil {
				return nil, err
			}
			// OTLP parents become CHILD_OF references; links become FOLLOWS_FROM.
			for _, ref := range s.References {
				if ref.RefType == "CHILD_OF" {
					if span.ParentID, err = parseSpanID(ref.SpanID); err != nil {
						return nil, err
					}
					break
				}
			}
			p, ok := t.Processes[s.ProcessID]
			if !ok {
				return nil, fmt.Errorf("span %s: unknown process %q", s.SpanID, s.ProcessID)
			}
			span.Service = p.ServiceName
			if span.Attributes, err = v1Attributes(s.Tags); err != nil {
				return nil, fmt.Errorf("span %s: %w", s.SpanID, err)
			}
			var events timedEvents
			for _, l := range s.Logs {
				attrs, err := v1Attributes(l.Fields)
				if err != nil {
					return nil, fmt.Errorf("span %s: %w", s.SpanID, err)
				}
				// Jaeger keeps the event name in the "event" field.
				name, _ := attrs["event"].(string)
				delete(attrs, "event")
				events = append(events, timedEvent{l.Timestamp * 1000, Event{Name: name, Attributes: attrs}})
			}
			span.Events = events.sorted()
			tr.Spans = append(tr.Spans, span)
		}
		out = append(out, tr)
	}
	return out, nil
}

func v1Attributes(kvs []v1KeyValue) (map[string]any, error) {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		var err error
		switch kv.Type {
		case "string", "binary": // binary is base64 text
			var v string
			err = json.Unmarshal(kv.Value, &v)
			m[kv.Key] = v
		case "bool":
			var v bool
			err = json.Unmarshal(kv.Value, &v)
			m[kv.Key] = v
		case "int64": // a JSON string beyond 2^53, else a number
			var v json.Number
			if err = json.Unmarshal(kv.Value, &v); err == nil {
				m[kv.Key], err = v.Int64()
			}
		case "float64":
			var v float64
			err = json.Unmarshal(kv.Value, &v)
			m[kv.Key] = v
		default:
			err = fmt.Errorf("unknown type %q", kv.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("tag %q: %w", kv.Key, err)
		}
	}
	return m, nil
}

// v3Response is the body of GET /api/v3/traces/{id}: OTLP JSON in a wrapper.
type v3Response struct {
	Result struct {
		ResourceSpans []struct {
			Resource struct {
				Attributes []v3KeyValue `json:"attributes"`
			} `json:"resource"`
			ScopeSpans []struct {
				Spans []v3Span `json:"spans"`
			} `json:"scopeSpans"`
		} `json:"resourceSpans"`
	} `json:"result"`
}

type v3Span struct {
	TraceID      string       `json:"traceId"`
	SpanID       string       `json:"spanId"`
	ParentSpanID string       `json:"parentSpanId"`
	Name         string       `json:"name"`
	Attributes   []v3KeyValue `json:"attributes"`
	Events       []struct {
		TimeUnixNano int64        `json:"timeUnixNano,string"`
		Name         string       `json:"name"`
		Attributes   []v3KeyValue `json:"attributes"`
	} `json:"events"`
}

type v3KeyValue struct {
	Key   string  `json:"key"`
	Value v3Value `json:"value"`
}

// v3Value is an OTLP AnyValue: at most one field is set.
type v3Value struct {
	StringValue *string      `json:"stringValue"`
	BoolValue   *bool        `json:"boolValue"`
	IntValue    *json.Number `json:"intValue"` // a JSON string: int64 does not fit a double
	DoubleValue *float64     `json:"doubleValue"`
	BytesValue  *string      `json:"bytesValue"`
	ArrayValue  *struct {
		Values []v3Value `json:"values"`
	} `json:"arrayValue"`
	KvlistValue *struct {
		Values []v3KeyValue `json:"values"`
	} `json:"kvlistValue"`
}

func (r v3Response) trace(id trace.TraceID) (Trace, error) {
	tr := Trace{ID: id}
	for _, rs := range r.Result.ResourceSpans {
		res, err := v3Attributes(rs.Resource.Attributes)
		if err != nil {
			return Trace{}, fmt.Errorf("resource: %w", err)
		}
		service, _ := res["service.name"].(string)
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				span := Span{Name: s.Name, Service: service}
				if span.TraceID, err = parseTraceID(s.TraceID); err != nil {
					return Trace{}, err
				}
				if span.TraceID != id {
					return Trace{}, fmt.Errorf("span %s belongs to trace %s, not %s", s.SpanID, span.TraceID, id)
				}
				if span.SpanID, err = parseSpanID(s.SpanID); err != nil {
					return Trace{}, err
				}
				if s.ParentSpanID != "" {
					if span.ParentID, err = parseSpanID(s.ParentSpanID); err != nil {
						return Trace{}, err
					}
				}
				if span.Attributes, err = v3Attributes(s.Attributes); err != nil {
					return Trace{}, fmt.Errorf("span %s: %w", s.SpanID, err)
				}
				var events timedEvents
				for _, e := range s.Events {
					attrs, err := v3Attributes(e.Attributes)
					if err != nil {
						return Trace{}, fmt.Errorf("span %s: event %q: %w", s.SpanID, e.Name, err)
					}
					events = append(events, timedEvent{e.TimeUnixNano, Event{Name: e.Name, Attributes: attrs}})
				}
				span.Events = events.sorted()
				tr.Spans = append(tr.Spans, span)
			}
		}
	}
	return tr, nil
}

func v3Attributes(kvs []v3KeyValue) (map[string]any, error) {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		v, err := kv.Value.value()
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", kv.Key, err)
		}
		m[kv.Key] = v
	}
	return m, nil
}

func (v v3Value) value() (any, error) {
	switch {
	case v.StringValue != nil:
		return *v.StringValue, nil
	case v.BoolValue != nil:
		return *v.BoolValue, nil
	case v.IntValue != nil:
		return v.IntValue.Int64()
	case v.DoubleValue != nil:
		return *v.DoubleValue, nil
	case v.BytesValue != nil:
		return *v.BytesValue, nil
	case v.ArrayValue != nil:
		out := make([]any, len(v.ArrayValue.Values))
		for i, e := range v.ArrayValue.Values {
			var err error
			if out[i], err = e.value(); err != nil {
				return nil, err
			}
		}
		return out, nil
	case v.KvlistValue != nil:
		return v3Attributes(v.KvlistValue.Values)
	}
	return nil, nil // an empty AnyValue is valid OTLP
}

type timedEvent struct {
	unixNano int64
	Event
}

type timedEvents []timedEvent

// sorted returns the events in time order. Jaeger does not keep the order in
// which they were recorded: the v3 API sorts them by name, the in-memory
// store reverses them.
func (evs timedEvents) sorted() []Event {
	if len(evs) == 0 {
		return nil
	}
	slices.SortStableFunc(evs, func(a, b timedEvent) int { return cmp.Compare(a.unixNano, b.unixNano) })
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = e.Event
	}
	return out
}

// parseTraceID parses a hex trace ID. Jaeger's v1 API drops the high 64 bits
// when they are zero, so a short ID is padded back to 32 digits.
func parseTraceID(s string) (trace.TraceID, error) {
	id, err := trace.TraceIDFromHex(pad(s, 32))
	if err != nil {
		return id, fmt.Errorf("trace ID %q: %w", s, err)
	}
	return id, nil
}

func parseSpanID(s string) (trace.SpanID, error) {
	id, err := trace.SpanIDFromHex(pad(s, 16))
	if err != nil {
		return id, fmt.Errorf("span ID %q: %w", s, err)
	}
	return id, nil
}

func pad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}
