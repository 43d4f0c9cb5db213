// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"time"
)

// liveView is the part of the live view's JSON the demo reads (see the
// exporter's package documentation).
type liveView struct {
	Resources []struct {
		ID      uint64 `json:"id"`
		Type    string `json:"type"`
		TraceID string `json:"traceId"`
		SpanID  string `json:"spanId"`
		Request *struct {
			Route string `json:"route"`
		} `json:"request"`
		Goroutines []struct {
			Count  int    `json:"count"`
			State  string `json:"state"`
			Frames []struct {
				Function string `json:"function"`
				File     string `json:"file"`
				Line     int    `json:"line"`
			} `json:"frames"`
		} `json:"goroutines"`
	} `json:"resources"`
}

// catch reads the live view until it shows n frontend requests and n
// backend requests, each with goroutines parked, at most for d; it returns
// the last view read, and whether it did.
func catch(h http.Handler, n int, d time.Duration) (liveView, bool) {
	deadline := time.Now().Add(d)
	for {
		var v liveView
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/debug/async?format=json&limit=10000", nil))
		if err := json.Unmarshal(w.Body.Bytes(), &v); err == nil && v.parked("GET /profile") >= n && v.parked("GET /user") >= n {
			return v, true
		}
		if time.Now().After(deadline) {
			return v, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// parked counts the requests of route whose goroutines are all parked.
func (v liveView) parked(route string) int {
	n := 0
	for _, r := range v.Resources {
		if r.Request == nil || r.Request.Route != route || len(r.Goroutines) == 0 {
			continue
		}
		parked := true
		for _, g := range r.Goroutines {
			parked = parked && g.State != "runnable"
		}
		if parked {
			n++
		}
	}
	return n
}

// waits returns where the goroutines of each resource of the trace waited,
// by the span they show under: "span:<id>" for a request (the server span
// current when its resource was created), "async:<id>" for another resource
// (its own span).
func (v liveView) waits(traceID string) map[string][]string {
	waits := map[string][]string{}
	for _, r := range v.Resources {
		if r.TraceID != traceID {
			continue
		}
		key := fmt.Sprintf("async:%d", r.ID)
		if r.Request != nil {
			key = "span:" + r.SpanID
		}
		for _, g := range r.Goroutines {
			if len(g.Frames) == 0 {
				continue
			}
			// The innermost frame of the program's own code, if any: the
			// standard library's and asynctrack's say how, not where.
			f := g.Frames[0]
			for _, c := range g.Frames {
				first, _, ok := strings.Cut(c.Function, "/")
				if ok && strings.Contains(first, ".") && !strings.Contains(c.Function, "/asynctrack.") {
					f = c
					break
				}
			}
			fn := f.Function[strings.LastIndexByte(f.Function, '/')+1:]
			waits[key] = append(waits[key], fmt.Sprintf("%s in %s  %s:%d", g.State, fn, path.Base(f.File), f.Line))
		}
	}
	return waits
}
