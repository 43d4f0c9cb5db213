// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
)

// leak is a service whose /work handler runs the request as an http.request
// resource and leaves behind a goroutine blocked on a channel the test
// controls.
type leak struct {
	release chan struct{}
	exited  chan struct{}
}

// answer is what /work tells the test about the request it served.
type answer struct {
	TraceID   string `json:"traceId"`
	RequestID uint64 `json:"requestId"`
	LeakedID  uint64 `json:"leakedId"`
}

func (l *leak) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := asynctrack.NewResource(r.Context(), "http.request", nil)
	defer req.Destroy() // the request ends; the goroutine it started does not
	req.Run(func(ctx context.Context) {
		started := make(chan uint64)
		asynctrack.Go(ctx, func(ctx context.Context) {
			defer close(l.exited)
			started <- asynctrack.ExecutionID(ctx)
			<-l.release
		})
		_ = json.NewEncoder(w).Encode(answer{
			TraceID:   trace.SpanContextFromContext(ctx).TraceID().String(),
			RequestID: req.ID(),
			LeakedID:  <-started,
		})
	})
}

func get(t *testing.T, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

// liveView is the JSON the view serves, as a client decodes it.
type liveView struct {
	TraceID   string `json:"traceId"`
	ID        uint64 `json:"id"`
	Time      time.Time
	Resources []struct {
		ID         uint64    `json:"id"`
		Type       string    `json:"type"`
		TriggerID  uint64    `json:"triggerId"`
		TraceID    string    `json:"traceId"`
		SpanID     string    `json:"spanId"`
		Created    time.Time `json:"created"`
		AgeSeconds float64   `json:"ageSeconds"`
		Triggers   []struct {
			ID         uint64    `json:"id"`
			Type       string    `json:"type"`
			Created    time.Time `json:"created"`
			AgeSeconds float64   `json:"ageSeconds"`
			Live       bool      `json:"live"`
		} `json:"triggers"`
	} `json:"resources"`
}

func getView(t *testing.T, url string) liveView {
	t.Helper()
	code, h, body := get(t, url, nil)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	var v liveView
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

// The view shows a goroutine that a request left behind, with its trigger
// chain back to the request, and stops showing it once it exits.
func TestViewLeakedGoroutine(t *testing.T) {
	s := newSDK(t)
	e := s.exporter(t, WithSpanTypes(asynctrack.TypeGoroutine))
	a := &leak{release: make(chan struct{}), exited: make(chan struct{})}
	b := &leak{release: make(chan struct{}), exited: make(chan struct{})}
	mux := http.NewServeMux()
	mux.Handle("/a", otelhttp.NewHandler(a, "a", otelhttp.WithTracerProvider(s.tp)))
	mux.Handle("/b", otelhttp.NewHandler(b, "b", otelhttp.WithTracerProvider(s.tp)))
	mux.Handle("/debug/async", e.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	released := false
	defer func() { // on failure too: no goroutine outlives the test
		if !released {
			close(a.release)
		}
		close(b.release)
		<-a.exited
		<-b.exited
	}()

	work := func(path string) answer {
		code, _, body := get(t, srv.URL+path, nil)
		require.Equal(t, http.StatusOK, code, body)
		var ans answer
		require.NoError(t, json.Unmarshal([]byte(body), &ans))
		return ans
	}
	ansA, ansB := work("/a"), work("/b")
	require.NotEqual(t, ansA.TraceID, ansB.TraceID)

	check := func(t *testing.T, v liveView, ans answer) {
		require.Len(t, v.Resources, 1, "only the request's goroutine is live")
		r := v.Resources[0]
		assert.Equal(t, ans.LeakedID, r.ID)
		assert.Equal(t, asynctrack.TypeGoroutine, r.Type)
		assert.Equal(t, ans.RequestID, r.TriggerID)
		assert.Equal(t, ans.TraceID, r.TraceID)
		assert.Len(t, r.SpanID, 16)
		assert.Greater(t, r.AgeSeconds, 0.0)
		require.Len(t, r.Triggers, 1, "the chain ends at the request")
		assert.Equal(t, ans.RequestID, r.Triggers[0].ID)
		assert.Equal(t, "http.request", r.Triggers[0].Type)
		assert.False(t, r.Triggers[0].Live, "the request has ended")
		assert.GreaterOrEqual(t, r.Triggers[0].AgeSeconds, r.AgeSeconds)
	}
	t.Run("trace_id", func(t *testing.T) {
		v := getView(t, srv.URL+"/debug/async?trace_id="+ansA.TraceID)
		assert.Equal(t, ansA.TraceID, v.TraceID)
		check(t, v, ansA)
		check(t, getView(t, srv.URL+"/debug/async?trace_id="+strings.ToUpper(ansB.TraceID)), ansB)
	})
	t.Run("id", func(t *testing.T) {
		v := getView(t, srv.URL+"/debug/async?id="+strconv.FormatUint(ansA.RequestID, 10))
		assert.Equal(t, ansA.RequestID, v.ID)
		check(t, v, ansA)
		check(t, getView(t, srv.URL+"/debug/async?id="+strconv.FormatUint(ansB.LeakedID, 10)), ansB)
	})
	t.Run("all", func(t *testing.T) {
		v := getView(t, srv.URL+"/debug/async")
		var ids []uint64
		for _, r := range v.Resources {
			ids = append(ids, r.ID)
		}
		assert.Equal(t, []uint64{ansA.LeakedID, ansB.LeakedID}, ids)
	})
	t.Run("text", func(t *testing.T) {
		// The goroutine, where it waits, and its frames by function: a
		// build without scopes cannot tell it.
		waits := `        1 goroutine: chan receive
            exporter\.\(\*leak\)\.ServeHTTP\.func1\.1  view_test\.go:\d+
(            \S+  \S+:\d+\n)*`
		if !ambientBuild() {
			waits = ""
		}
		want := regexp.MustCompile(fmt.Sprintf(`^live async resources in trace %s: 1
http\.request %d  age [0-9.]+[µm]?s  \(done\)
└── goroutine %d exporter\.\(\*leak\)\.ServeHTTP\.func1\.1  age [0-9.]+[µm]?s
%s$`, ansA.TraceID, ansA.RequestID, ansA.LeakedID, waits))
		for name, q := range map[string]struct {
			query  string
			accept string
		}{
			"format":      {"&format=text", "application/json"},
			"accept":      {"", "text/html;q=0.9, text/plain"},
			"accept-json": {"&format=text", "application/json, text/plain"},
		} {
			code, h, body := get(t, srv.URL+"/debug/async?trace_id="+ansA.TraceID+q.query, http.Header{"Accept": {q.accept}})
			assert.Equal(t, http.StatusOK, code, name)
			assert.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"), name)
			assert.Regexp(t, want, body, name)
		}
		_, h, _ := get(t, srv.URL+"/debug/async?trace_id="+ansA.TraceID, http.Header{"Accept": {"application/json, text/plain"}})
		assert.Equal(t, "application/json", h.Get("Content-Type"), "JSON named first")
	})

	// The goroutine's span is open while it lives.
	open := 0
	for _, sp := range s.spans.Started() {
		if strings.HasPrefix(sp.Name(), asynctrack.TypeGoroutine+" ") && sp.EndTime().IsZero() {
			open++
		}
	}
	assert.Equal(t, 2, open)

	close(a.release)
	released = true
	<-a.exited
	require.Eventually(t, func() bool {
		code, _, body := get(t, srv.URL+"/debug/async?trace_id="+ansA.TraceID, nil)
		return code == http.StatusOK && strings.Contains(body, `"resources": []`)
	}, waitFor, time.Millisecond, "the goroutine is gone from the view once it exits")
	check(t, getView(t, srv.URL+"/debug/async?trace_id="+ansB.TraceID), ansB)
	code, _, body := get(t, srv.URL+"/debug/async?format=text&id="+strconv.FormatUint(ansA.RequestID, 10), nil)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, fmt.Sprintf("live async resources of execution %d: 0\n", ansA.RequestID), body)
}

func TestViewBadRequests(t *testing.T) {
	s := newSDK(t)
	e := s.exporter(t)
	h := e.Handler()
	const valid = "4bf92f3577b34da6a3ce929d0e0e4736"
	for _, tc := range []struct {
		query, want string
	}{
		{"trace_id=xyz", errTraceID.Error()},
		{"trace_id=" + valid + "0", errTraceID.Error()},
		{"trace_id=4bf92f3577b34da6a3ce929d0e0e473g", errTraceID.Error()},
		{"trace_id=00000000000000000000000000000000", errTraceID.Error()},
		{"trace_id=", errTraceID.Error()},
		{"id=abc", errID.Error()},
		{"id=0", errID.Error()},
		{"id=-1", errID.Error()},
		{"id=18446744073709551616", errID.Error()},
		{"id=1.5", errID.Error()},
		{"id=", errID.Error()},
		{"id=1&id=2", errRepeated.Error()},
		{"format=text&format=json", errRepeated.Error()},
		{"trace_id=" + valid + "&id=1", errBoth.Error()},
		{"format=xml", errFormat.Error()},
		{"format=", errFormat.Error()},
		{"format=TEXT", errFormat.Error()},
		{"id=%zz", "malformed query string"},
		{"trace_id=%3Cscript%3E", errTraceID.Error()},
	} {
		t.Run(tc.query, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/async?"+tc.query, nil))
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Equal(t, tc.want+"\n", rec.Body.String())
			assert.Equal(t, "text/plain; charset=utf-8", rec.Header().Get("Content-Type"))
		})
	}
	for _, q := range []string{"", "trace_id=" + valid, "trace_id=" + strings.ToUpper(valid), "id=18446744073709551615", "format=text", "other=ignored&other=twice"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/async?"+q, nil))
		assert.Equal(t, http.StatusOK, rec.Code, q)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/debug/async", nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, m)
		assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/debug/async", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
}

func TestViewAfterShutdown(t *testing.T) {
	s := newSDK(t)
	e := New(WithTracerProvider(s.tp), WithMeterProvider(s.mp))
	require.NoError(t, e.Shutdown(context.Background()))
	rec := httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/async", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	rec = httptest.NewRecorder()
	e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/async?id=x", nil))
	assert.Equal(t, http.StatusBadRequest, rec.Code, "bad input is still bad input")
}

// The text tree, from a view built by hand: shared triggers are drawn once,
// live triggers outside the answer and ended ones are marked, odd types are
// quoted, and siblings come oldest first, whatever their IDs.
func TestViewText(t *testing.T) {
	chain := func(ls ...link) []link { return ls }
	v := view{
		Total: 5,
		Resources: []resource{
			{ID: 5, Type: "goroutine", Age: 2, TraceID: "t1", Triggers: chain(
				link{ID: 3, Type: "http.request", Age: 3},
				link{ID: 1, Type: "goroutine", Age: 60, Live: true})},
			{ID: 7, Type: "timer", Age: 0.0015, TraceID: "t1", Triggers: chain(
				link{ID: 5, Type: "goroutine", Age: 2},
				link{ID: 3, Type: "http.request", Age: 3},
				link{ID: 1, Type: "goroutine", Age: 60, Live: true})},
			{ID: 6, Type: "task", Age: 1, Triggers: chain(
				link{ID: 3, Type: "http.request", Age: 3},
				link{ID: 1, Type: "goroutine", Age: 60, Live: true})},
			{ID: 9, Type: "bad\ntype", Age: 0.0000005},
			{ID: 4, Type: "goroutine", Age: 0.5, Triggers: chain( // an ID from another CPU's block
				link{ID: 3, Type: "http.request", Age: 3},
				link{ID: 1, Type: "goroutine", Age: 60, Live: true})},
		},
	}
	assert.Equal(t, `live async resources: 5
goroutine 1  age 1m0s  (live, outside this query)
└── http.request 3  age 3s  (done)
    ├── goroutine 5  age 2s  trace t1
    │   └── timer 7  age 1.5ms  trace t1
    ├── task 6  age 1s
    └── goroutine 4  age 500ms
"bad\ntype" 9  age 1µs
`, string(v.text()))

	v.TraceID = "t1"
	v.Resources, v.Total = v.Resources[:1], 1
	assert.Equal(t, `live async resources in trace t1: 1
goroutine 1  age 1m0s  (live, outside this query)
└── http.request 3  age 3s  (done)
    └── goroutine 5  age 2s
`, string(v.text()))
}

func FuzzViewQuery(f *testing.F) {
	for _, q := range []string{
		"", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736", "id=1", "format=text",
		"trace_id=4BF92F3577B34DA6A3CE929D0E0E4736&format=json", "id=1&id=2", "id=%zz", "trace_id=;id=1",
	} {
		f.Add(q, "text/plain")
	}
	s := newSDK(f)
	e := s.exporter(f)
	h := e.Handler()
	f.Fuzz(func(t *testing.T, rawQuery, accept string) {
		r := httptest.NewRequest(http.MethodGet, "/debug/async", nil)
		r.URL.RawQuery = rawQuery
		r.Header.Set("Accept", accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusOK:
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
				var v liveView
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
			}
		case http.StatusBadRequest:
			// One of the fixed messages: the input is never echoed.
			msg := strings.TrimSuffix(rec.Body.String(), "\n")
			assert.Contains(t, []string{"malformed query string", errRepeated.Error(), errTraceID.Error(), errID.Error(), errBoth.Error(), errFormat.Error()}, msg)
		default:
			t.Fatalf("status %d for %q", rec.Code, rawQuery)
		}
	})
}

// TestViewBoundedUnderLoad: with 100,000 live resources an answer lists a
// page of them, with the total, and pages follow on.
func TestViewBoundedUnderLoad(t *testing.T) {
	s := newSDK(t)
	e := New(WithTracerProvider(s.tp), WithMeterProvider(s.mp))
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	const live = 100_000
	rs := make([]*asynctrack.Resource, live)
	for i := range rs {
		rs[i] = asynctrack.NewResource(context.Background(), "job", nil)
	}
	defer func() {
		for _, r := range rs {
			r.Destroy()
		}
	}()
	get := func(query string) (*httptest.ResponseRecorder, view) {
		rec := httptest.NewRecorder()
		e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/async?"+query, nil))
		var v view
		if strings.Contains(query, "format=text") {
			return rec, v
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
		return rec, v
	}
	start := time.Now()
	rec, v := get("")
	t.Logf("default page of %d live resources: %d bytes in %s", v.Total, rec.Body.Len(), time.Since(start))
	assert.GreaterOrEqual(t, v.Total, live)
	assert.Len(t, v.Resources, DefaultViewLimit)
	assert.Less(t, rec.Body.Len(), 1<<20, "the default answer stays under 1 MiB")

	_, next := get(fmt.Sprintf("offset=%d&limit=10", DefaultViewLimit))
	require.Len(t, next.Resources, 10)
	assert.NotEqual(t, v.Resources[0].ID, next.Resources[0].ID)
	assert.Equal(t, DefaultViewLimit, next.Offset)

	rec, _ = get("format=text&limit=5")
	assert.Contains(t, rec.Body.String(), "showing 5 from offset 0, oldest first; next page: offset=5")
	assert.Less(t, strings.Count(rec.Body.String(), "\n"), 20)

	for _, bad := range []string{"limit=0", "limit=10001", "limit=x", "offset=-1", "limit=1&limit=2"} {
		rec := httptest.NewRecorder()
		e.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/async?"+bad, nil))
		assert.Equal(t, http.StatusBadRequest, rec.Code, bad)
	}
}

// TestViewHTML: the page is served by format=html or a browser's Accept,
// escapes every value it shows, and links traces to Jaeger when configured.
func TestViewHTML(t *testing.T) {
	s := newSDK(t)
	e := New(WithTracerProvider(s.tp), WithMeterProvider(s.mp), WithJaegerURL("http://127.0.0.1:16686/"))
	defer func() { require.NoError(t, e.Shutdown(context.Background())) }()
	ctx, root := s.tp.Tracer("test").Start(context.Background(), "request")
	defer root.End()
	req := asynctrack.NewResource(ctx, `<script>alert("type")</script>`, `<img src=x onerror=alert("name")>`)
	defer req.Destroy()
	var child *asynctrack.Resource
	req.Run(func(ctx context.Context) { child = asynctrack.NewResource(ctx, "job", `"><b>bold</b>`) })
	defer child.Destroy()

	for name, r := range map[string]*http.Request{
		"format": httptest.NewRequest(http.MethodGet, "/debug/async?format=html", nil),
		"accept": func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/debug/async", nil)
			r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
			return r
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.Handler().ServeHTTP(rec, r)
			require.Equal(t, http.StatusOK, rec.Code)
			assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
			assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
			body := rec.Body.String()
			for _, raw := range []string{`<script>alert`, `<img`, `<b>bold`} {
				assert.NotContains(t, body, raw, "unescaped user value")
			}
			assert.Contains(t, body, "&lt;script&gt;alert(&#34;type&#34;)&lt;/script&gt;")
			assert.Contains(t, body, "&lt;img src=x onerror=alert(&#34;name&#34;)&gt;")
			assert.Contains(t, body, `href="http://127.0.0.1:16686/trace/`+root.SpanContext().TraceID().String()+`"`)
			assert.NotContains(t, body, "<link", "nothing fetched")
			assert.NotContains(t, body, "src=\"http", "nothing fetched")
		})
	}
}
