// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelctx/otelctx/asynctrack"
)

// keptTriggers is how many links of a chain registry.Registry keeps and
// the view shows per resource.
const keptTriggers = 16

// depthKey asks a depthProbe for the depth of the call stack of the lookup.
type depthKey struct{}

// depthProbe is a context at the bottom of a chain that answers depthKey with
// the depth of the lookup's call stack: every frame of asynctrack, and every
// other context that implements Value by calling its parent's, between the
// lookup and the probe adds to it.
type depthProbe struct{ context.Context }

func (p depthProbe) Value(key any) any {
	if key == (depthKey{}) {
		return runtime.Callers(0, make([]uintptr, 1<<16))
	}
	return p.Context.Value(key)
}

// heapAfterGC returns the bytes of live heap objects.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// serve answers one request to the view.
func serve(e *Instrumentation, query string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/async?"+query, nil))
	return rec
}

// TestRearmingTimerStaysBounded: a timer that re-arms itself from the ctx it
// receives, Node's setInterval, started in a sampled trace with the
// Instrumentation giving timers spans, fires a million times without growing
// anything: the heap, the layers a ctx lookup goes through, the view.
func TestRearmingTimerStaysBounded(t *testing.T) {
	firings := 1_000_000
	if raceEnabled {
		firings = 100_000
	}
	// Past the spans' per-trace bound, so that the heap is measured after
	// the last span was recorded.
	const warm = 2 * defaultMaxSpansPerTrace
	s := newSDK(t)
	e := s.exporter(t, WithSpanTypes(asynctrack.TypeTimer))
	ctx, root := s.tp.Tracer("test").Start(depthProbe{context.Background()}, "start-up")
	defer root.End()

	var (
		depth      [2]int
		heap       [2]uint64
		views      = map[string]int{}
		lastID     uint64
		lastDepth  int
		lastChains int
	)
	done := make(chan struct{})
	n := 0
	var tick func(ctx context.Context)
	tick = func(ctx context.Context) {
		n++
		switch n {
		case 1:
			depth[0] = ctx.Value(depthKey{}).(int)
		case warm:
			heap[0] = heapAfterGC()
		case firings:
			depth[1] = ctx.Value(depthKey{}).(int)
			heap[1] = heapAfterGC()
			lastID = asynctrack.ExecutionID(ctx)
			for _, format := range []string{"json", "text", "html"} {
				views[format] = serve(e, "format="+format).Body.Len()
			}
			var v view
			require.NoError(t, json.Unmarshal(serve(e, "id="+strconv.FormatUint(lastID, 10)).Body.Bytes(), &v))
			if assert.Len(t, v.Resources, 1) {
				lastDepth, lastChains = v.Resources[0].Depth, len(v.Resources[0].Triggers)
			}
			close(done)
			return
		}
		asynctrack.AfterFunc(ctx, 0, tick)
	}
	asynctrack.AfterFunc(ctx, 0, tick)
	<-done

	t.Logf("%d firings: heap %d -> %d bytes, lookup depth %d -> %d, views %v", firings, heap[0], heap[1], depth[0], depth[1], views)
	assert.Equal(t, depth[0], depth[1], "a lookup in the last callback goes through as many layers as in the first")
	assert.Less(t, int64(heap[1])-int64(heap[0]), int64(1<<20), "the heap grows by less than 1 MiB")
	for format, size := range views {
		assert.Less(t, size, 1<<20, "the %s view stays under 1 MiB", format)
	}
	assert.Equal(t, firings-1, lastDepth, "the view counts the whole chain")
	assert.Equal(t, keptTriggers, lastChains, "and shows its nearest links")
	assert.Equal(t, defaultMaxSpansPerTrace, len(s.spans.Ended()), "one span per firing up to the trace's bound")
}

// TestViewBoundedAtDepth: a page of resources at the end of a deep chain
// shows each with its nearest links and the chain's length, and its size
// depends on the page, not on the depth.
func TestViewBoundedAtDepth(t *testing.T) {
	const depth, leaves, limit = 20 * keptTriggers, 300, 100
	s := newSDK(t)
	e := s.exporter(t)
	prev := asynctrack.NewResource(context.Background(), "link", nil)
	for range depth - 1 {
		var next *asynctrack.Resource
		prev.Run(func(ctx context.Context) { next = asynctrack.NewResource(ctx, "link", nil) })
		prev.Destroy()
		prev = next
	}
	defer prev.Destroy()
	prev.Run(func(ctx context.Context) {
		for range leaves {
			t.Cleanup(asynctrack.NewResource(ctx, "leaf", nil).Destroy)
		}
	})

	var v view
	require.NoError(t, json.Unmarshal(serve(e, "limit="+strconv.Itoa(limit)).Body.Bytes(), &v))
	assert.Equal(t, leaves+1, v.Total)
	require.Len(t, v.Resources, limit)
	for _, r := range v.Resources[1:] {
		assert.Equal(t, depth, r.Depth, "a leaf's chain: every link, and the resource that started the leaves")
		assert.Len(t, r.Triggers, keptTriggers)
	}
	for _, format := range []string{"json", "text", "html"} {
		body := serve(e, "format="+format+"&limit="+strconv.Itoa(limit)).Body.String()
		assert.Less(t, len(body), limit*4<<10, "%s: at most 4 KiB per resource", format)
		if format == "text" {
			assert.Contains(t, body, strconv.Itoa(depth-1-keptTriggers)+" earlier triggers not kept", "the oldest link shown, of the chain of the resource that started the leaves")
			assert.LessOrEqual(t, strings.Count(body, "\n"), limit+keptTriggers+2)
		}
	}
}
