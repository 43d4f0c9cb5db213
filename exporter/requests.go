// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"maps"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/internal/reqinfo"
)

// Bounds of what the view shows of a request, and of the ended requests it
// remembers.
const (
	maxValues     = 16
	maxValueLen   = 128
	maxOutliving  = 100
	endedRequests = 4096
)

// requestInfo is what the view shows of a request: its method, its route
// (the ServeMux pattern that serves it) and the values the bridge's options
// select, as baggagebridge.Middleware describes them.
type requestInfo struct {
	Method string     `json:"method"`
	Route  string     `json:"route,omitempty"`
	Values []keyValue `json:"values,omitempty"`
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// describe returns what the view shows of a request described by d, with
// bounded values; nil for nil.
func describe(d reqinfo.Describer) *requestInfo {
	if d == nil {
		return nil
	}
	rq := d.DescribeRequest()
	info := &requestInfo{Method: cut(rq.Method), Route: cut(rq.Route)}
	for _, kv := range rq.Values[:min(len(rq.Values), maxValues)] {
		info.Values = append(info.Values, keyValue{cut(kv.Key), cut(kv.Value)})
	}
	return info
}

// cut bounds a string the view shows, on a rune boundary.
func cut(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	n := maxValueLen
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// label is how the text and the HTML name a request: "GET /profile", the
// method alone while the route is not known.
func (r *requestInfo) label() string {
	switch {
	case r.Route == "":
		return r.Method
	case len(r.Route) > len(r.Method) && r.Route[:len(r.Method)] == r.Method && r.Route[len(r.Method)] == ' ':
		return r.Route // the pattern names the method
	}
	return r.Method + " " + r.Route
}

// ended remembers the last requests that ended, so that a goroutine still
// running after its request ended can be shown with the request it came
// from. It keeps endedRequests of them, the oldest forgotten first.
type ended struct {
	mu   sync.Mutex
	byID map[uint64]endedRequest
	ring [endedRequests]uint64
	next int
}

type endedRequest struct {
	created, ended time.Time
	trace          trace.TraceID
	desc           reqinfo.Describer
}

func (e *ended) add(id uint64, r endedRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byID == nil {
		e.byID = make(map[uint64]endedRequest, endedRequests)
	}
	delete(e.byID, e.ring[e.next])
	e.ring[e.next] = id
	e.next = (e.next + 1) % endedRequests
	e.byID[id] = r
}

func (e *ended) get(id uint64) (endedRequest, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.byID[id]
	return r, ok
}

// outliving is an execution that has ended while goroutines still run in
// its scope, with those goroutines.
type outliving struct {
	// ID is the execution's ID; 0 for the goroutines whose scope closed too
	// long ago to tell whose it was (asynctrack remembers the last 16,384
	// closed scopes), or whose label names no scope.
	ID uint64 `json:"id"`
	// Request, TraceID and EndedSeconds describe it if it was one of the
	// last requests to end.
	Request      *requestInfo `json:"request,omitempty"`
	TraceID      string       `json:"traceId,omitempty"`
	EndedSeconds float64      `json:"endedSecondsAgo,omitempty"`
	Goroutines   []goroutines `json:"goroutines"`
	Omitted      int          `json:"goroutinesOmitted,omitempty"`
}

// outlivingOf returns the ended executions that match q and whose scopes
// goroutines still run in, at most maxOutliving, by ID.
func (e *Exporter) outlivingOf(q query, sg *scopeGoroutines, live func(uint64) bool, now time.Time) []outliving {
	var out []outliving
	for _, id := range slices.Sorted(maps.Keys(sg.byExec)) {
		if live(id) || (q.id != 0 && id != q.id) || (id == 0 && q.traceID.IsValid()) {
			continue
		}
		// A copy: concurrent pages share sg.
		o := outliving{ID: id, Goroutines: slices.Clone(sg.byExec[id]), Omitted: sg.omitted[id]}
		r, ok := e.ended.get(id)
		if ok {
			o.Request, o.EndedSeconds = describe(r.desc), max(0, now.Sub(r.ended).Seconds()) // it may end after now
			if r.trace.IsValid() {
				o.TraceID = r.trace.String()
			}
		}
		if q.traceID.IsValid() && (!ok || r.trace != q.traceID) {
			continue
		}
		for i := range o.Goroutines {
			o.Goroutines[i].Outlives = true
		}
		out = append(out, o)
		if len(out) == maxOutliving {
			break
		}
	}
	return out
}
