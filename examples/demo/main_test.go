// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/otelctx/otelctx/examples/internal/cmdtest"
	"github.com/otelctx/otelctx/examples/userservice"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestDemo(t *testing.T) {
	cmdtest.NoOTLP(t)
	var out bytes.Buffer
	const n = 8 // the default
	require.NoError(t, run(context.Background(), &out, options{requests: n, jaeger: "http://127.0.0.1:16686"}))
	text := out.String()
	t.Log("\n" + text)
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	assert.LessOrEqual(t, len(lines), 40, "fits a terminal")

	// The verdict first, then one row per request, numbered by execution ID.
	assert.Regexp(t, fmt.Sprintf(`^✓ %[1]d concurrent requests, %[1]d users: 0 mismatches \(a place that saw another request's user, or none\);
  the upstream, a third party, got %[1]d requests, 0 with baggage or a userid header\. All answered in \S+\.
request  user     answer  its work saw its user in
`, n), text)
	assert.Contains(t, text, "\nplaces: handler · goroutine · plain go · pool task · timer · backend (HTTP) · greeter and its goroutine (gRPC)\n")
	var ids []string
	for i := range n {
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^#(\d+) +%s +200 OK  ✓ all 8 places$`, regexp.QuoteMeta(userservice.Users[i%len(userservice.Users)].ID)))
		m := row.FindStringSubmatch(lines[3+i])
		if assert.NotNil(t, m, "row %d: %s", i, lines[3+i]) {
			ids = append(ids, m[1])
		}
	}
	assert.NotContains(t, text, "✗")
	assert.NotContains(t, text, "unfinished")
	assert.NotContains(t, text, "OTLP")
	require.NotEmpty(t, ids)

	// One request's tree, with the request's number as the trigger of its
	// goroutines, and where they waited.
	u := userservice.Users[0]
	require.Equal(t, 1, strings.Count(text, "\nRequest #"), "one tree by default")
	assert.Regexp(t, `\nRequest #`+ids[0]+` of `+u.ID+`, trace [0-9a-f]{32}: its spans, its async work
\(async #n ← #m: execution n, started by m\) and where its goroutines waited \(⏸\) as the live view saw them mid-flight:
GET /profile \[demo-frontend\] user\.id=`+u.ID+`  \S+
│  ⏸ sync\.WaitGroup\.Wait in twoservices\.\(\*Frontend\)\.serveProfile\.func1  frontend\.go:\d+
├─ thirdparty\.audit user\.id=`+u.ID+`  \S+
├─ goroutine twoservices\.\(\*Frontend\)\.serveProfile\.func1\.1 async #\d+ ← #`+ids[0]+` `, text)
	assert.Regexp(t, `\n│  │  ⏸ select in \S+  \S+\.go:\d+\n`, text, "the call to the backend waits for its answer")
	assert.Regexp(t, `\n│     └─ GET /user \[demo-backend\] user\.id=`+u.ID+`  \S+\n(│        │  ⏸ .*\n)*│        │  ⏸ select in \S+  \S+\.go:\d+\n`, text, "and so does the backend's call to the upstream")

	// The span tree is the trigger tree: the frontend's server span at the
	// root, its goroutines under it, the call, the task and the timer each
	// under the goroutine that started it, the backend under the call, and
	// the query under the backend's goroutine; the RPC under the goroutine
	// that made it, the greeter's server span under the RPC, and the
	// greeter's goroutine under its server span.
	b := regexp.MustCompile(`(?m)^.*⏸.*\n`).ReplaceAllString(text[strings.Index(text, "\nRequest #"):], "")
	user := "user.id=" + u.ID
	async := func(typ, indent string) string {
		return `\n` + indent + `[├└]─ ` + typ + ` \S+ async #\d+ ← #\d+ ` + user + `  `
	}
	assert.Len(t, regexp.MustCompile(async("goroutine", "")).FindAllString(b, -1), 5, b)
	assert.Regexp(t, async("goroutine", "")+`\S+\n│  └─ HTTP GET → 127\.0\.0\.1:\d+ `+user+`  \S+\n│     └─ GET /user \[demo-backend\] `+user+`  `, b)
	assert.Regexp(t, async("goroutine", "")+`\S+\n│  └─ otelctx\.examples\.Greeter/Greet → 127\.0\.0\.1:\d+ `+user+`  \S+\n│     └─ otelctx\.examples\.Greeter/Greet \[demo-greeter\] `+user+`  \S+\n│        └─ goroutine \S+ async #\d+ ← #\d+ `+user+`  `, b)
	assert.Regexp(t, async("task", "[│ ]  "), b)
	assert.Regexp(t, async("timer", "[│ ]  "), b)
	assert.Regexp(t, async("goroutine", "[│ ]        "), b)
	assert.Regexp(t, `\n[│ ]  [│ ]  [│ ]  [│ ]  └─ SELECT users `+user+`  `, b)
	// The span a library started from context.Background() joined the
	// request, under its span, with its user (AmbientTracerProvider).
	assert.Regexp(t, `\n├─ thirdparty\.audit `+user+`  `, b)
}

// TestDemoAll checks that -all prints every request's tree and the
// services' addresses.
func TestDemoAll(t *testing.T) {
	cmdtest.NoOTLP(t)
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, options{requests: 3, all: true}))
	text := out.String()
	assert.Regexp(t, `^frontend http://127\.0\.0\.1:\d+ → backend http://127\.0\.0\.1:\d+ → upstream http://127\.0\.0\.1:\d+; frontend → greeter grpc://127\.0\.0\.1:\d+\n`, text)
	for _, u := range userservice.Users[:3] {
		assert.Regexp(t, `\nRequest #\d+ of `+u.ID+`, trace [0-9a-f]{32}: `, text)
		assert.Contains(t, text, "GET /profile [demo-frontend] user.id="+u.ID+"  ")
	}
}

// collector is a stand-in for an OTLP/HTTP collector that keeps the
// service names and trace IDs of the spans it receives.
type collector struct {
	mu     sync.Mutex
	traces map[string]map[string]bool // service → trace IDs
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	var req collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(data, &req)
	}
	if r.URL.Path != "/v1/traces" || err != nil {
		http.Error(w, fmt.Sprintf("%s: %v", r.URL.Path, err), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.ResourceSpans {
		var svc string
		for _, kv := range rs.Resource.Attributes {
			if kv.Key == "service.name" {
				svc = kv.Value.GetStringValue()
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				if c.traces[svc] == nil {
					c.traces[svc] = map[string]bool{}
				}
				c.traces[svc][fmt.Sprintf("%x", s.TraceId)] = true
			}
		}
	}
	c.mu.Unlock()
	resp, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func TestDemoExportsOverOTLP(t *testing.T) {
	col := &collector{traces: map[string]map[string]bool{}}
	srv := httptest.NewServer(col)
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)

	var out bytes.Buffer
	const n = 4
	require.NoError(t, run(context.Background(), &out, options{requests: n, all: true, jaeger: "http://127.0.0.1:16686"}))
	text := out.String()
	assert.Contains(t, text, "Spans were exported over OTLP to "+srv.URL+". In Jaeger's query API:\n")
	assert.Contains(t, text, "  http://127.0.0.1:16686/api/traces?service=demo-frontend&limit=4\n")

	traceIDs := regexp.MustCompile(`, trace ([0-9a-f]{32}): `).FindAllStringSubmatch(text, -1)
	require.Len(t, traceIDs, n)
	assert.Contains(t, text, "  http://127.0.0.1:16686/api/v3/traces/"+traceIDs[0][1]+"   (one trace, as OTLP JSON)\n")
	col.mu.Lock()
	defer col.mu.Unlock()
	for _, id := range traceIDs {
		assert.True(t, col.traces["demo-frontend"][id[1]], "the frontend exported trace %s", id[1])
		assert.True(t, col.traces["demo-backend"][id[1]], "the backend exported trace %s", id[1])
		assert.True(t, col.traces["demo-greeter"][id[1]], "the greeter exported trace %s", id[1])
	}
	// The demo still prints the trees from its own copy of the spans.
	assert.Contains(t, text, "└─ GET /user [demo-backend] user.id=ada")
}

func TestDemoRequestBounds(t *testing.T) {
	cmdtest.NoOTLP(t)
	for _, n := range []int{0, 101} {
		err := run(context.Background(), io.Discard, options{requests: n})
		assert.EqualError(t, err, fmt.Sprintf("the number of requests must be from 1 to 100, not %d", n))
	}
}
