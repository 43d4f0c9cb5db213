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
	const n = 16
	require.NoError(t, run(context.Background(), &out, n, "http://127.0.0.1:16686"))
	text := out.String()
	t.Log("\n" + text)

	assert.Contains(t, text, fmt.Sprintf("sending %d concurrent requests, each with a userid header %s %d answered in", n, strings.Repeat(".", n), n))
	assert.Contains(t, text, fmt.Sprintf("%d requests, 0 mismatches; the upstream got %d requests, 0 of them with baggage or a userid header.", n, n))
	assert.NotContains(t, text, "✗")
	assert.NotContains(t, text, "unfinished")
	assert.NotContains(t, text, "OTLP")

	// One block per request, in order.
	blocks := strings.Split(text, "\n\n")
	var reqs []string
	for _, b := range blocks {
		if strings.HasPrefix(b, "#") {
			reqs = append(reqs, b)
		}
	}
	require.Len(t, reqs, n)
	for i, b := range reqs {
		u := userservice.Users[i%len(userservice.Users)]
		assert.Regexp(t, fmt.Sprintf(`^#%d userid: %s +→ 200 OK in \S+ +trace [0-9a-f]{32}\n`, i+1, u.ID), b)
		assert.Regexp(t, fmt.Sprintf(`request #\d+ saw: handler %[1]s · goroutine %[1]s · plain go %[1]s · pool task %[1]s · timer %[1]s\n`, u.ID), b)
		assert.Contains(t, b, fmt.Sprintf("backend, from baggage: %s (%s)\n", u.ID, u.Name))
		assert.Contains(t, b, fmt.Sprintf("greeter, over gRPC, from baggage: Hello, %[1]s!  saw: greeter %[1]s · greeter goroutine %[1]s\n", u.ID))

		// The span tree is the trigger tree: the frontend's server span at
		// the root, its goroutines under it, the call, the task and the
		// timer each under the goroutine that started it, the backend
		// under the call, and the query under the backend's goroutine; the
		// RPC under the goroutine that made it, the greeter's server span
		// under the RPC, and the greeter's goroutine under its server span.
		user := "user.id=" + u.ID
		async := func(typ, indent string) string {
			return `\n   ` + indent + `[├└]─ ` + typ + ` \S+ async #\d+ ← #\d+ ` + user + `  `
		}
		assert.Regexp(t, `\n   GET /profile \[demo-frontend\] `+user+`  \S+\n`, b)
		assert.Len(t, regexp.MustCompile(async("goroutine", "")).FindAllString(b, -1), 5, b)
		assert.Regexp(t, async("goroutine", "")+`\S+\n   │  └─ HTTP GET `+user+`  \S+\n   │     └─ GET /user \[demo-backend\] `+user+`  `, b)
		assert.Regexp(t, async("goroutine", "")+`\S+\n   │  └─ otelctx\.examples\.Greeter/Greet `+user+`  \S+\n   │     └─ otelctx\.examples\.Greeter/Greet \[demo-greeter\] `+user+`  \S+\n   │        └─ goroutine \S+ async #\d+ ← #\d+ `+user+`  `, b)
		assert.Regexp(t, async("task", "[│ ]  "), b)
		assert.Regexp(t, async("timer", "[│ ]  "), b)
		assert.Regexp(t, async("goroutine", "[│ ]        "), b)
		assert.Regexp(t, `\n   [│ ]  [│ ]  [│ ]  [│ ]  └─ SELECT users `+user+`  `, b)
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
	require.NoError(t, run(context.Background(), &out, n, "http://127.0.0.1:16686"))
	text := out.String()
	assert.Contains(t, text, "Spans were exported over OTLP to "+srv.URL+". In Jaeger's query API:\n")
	assert.Contains(t, text, "  http://127.0.0.1:16686/api/traces?service=demo-frontend&limit=4\n")

	traceIDs := regexp.MustCompile(`trace ([0-9a-f]{32})\n`).FindAllStringSubmatch(text, -1)
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
		err := run(context.Background(), io.Discard, n, "")
		assert.EqualError(t, err, fmt.Sprintf("the number of requests must be from 1 to 100, not %d", n))
	}
}
