// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

// goroutineView is the JSON of the view's goroutines, as a client decodes
// it.
type goroutineView struct {
	Goroutines int `json:"goroutines"`
	Resources  []struct {
		ID      uint64 `json:"id"`
		Type    string `json:"type"`
		Request *struct {
			Method string `json:"method"`
			Route  string `json:"route"`
			Values []struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			} `json:"values"`
		} `json:"request"`
		Goroutines []goroutineGroup `json:"goroutines"`
	} `json:"resources"`
	Outliving []struct {
		ID      uint64 `json:"id"`
		TraceID string `json:"traceId"`
		Request *struct {
			Method string `json:"method"`
			Route  string `json:"route"`
		} `json:"request"`
		EndedSecondsAgo float64          `json:"endedSecondsAgo"`
		Goroutines      []goroutineGroup `json:"goroutines"`
	} `json:"outliving"`
}

type goroutineGroup struct {
	Count    int    `json:"count"`
	State    string `json:"state"`
	Outlives bool   `json:"outlives"`
	Exited   bool   `json:"exited"`
	Frames   []struct {
		Function string `json:"function"`
		File     string `json:"file"`
		Line     int    `json:"line"`
	} `json:"frames"`
}

// in reports whether one of gs is in state, with fn among its frames.
func in(gs []goroutineGroup, state, fn string) bool {
	return slices.ContainsFunc(gs, func(g goroutineGroup) bool {
		return g.State == state && slices.ContainsFunc(g.Frames, func(f struct {
			Function string `json:"function"`
			File     string `json:"file"`
			Line     int    `json:"line"`
		}) bool {
			return strings.HasSuffix(f.Function, fn) && f.Line > 0 && strings.HasSuffix(f.File, ".go")
		})
	})
}

// pollEvery is the pause between reads of a polled view.
const pollEvery = 5 * time.Millisecond

// requireAmbient skips a test of scopes in a build that has none.
func requireAmbient(t *testing.T) {
	t.Helper()
	if !ambientBuild() {
		t.Skip("goroutines are told by their scope, which builds with the otelctx_nolinkname tag do not have")
	}
}

// fetchView reads the view's JSON at url. It touches no testing.T: it runs
// in the conditions of Eventually, which may outlive a failed test.
func fetchView(url string) (goroutineView, error) {
	var v goroutineView
	resp, err := http.Get(url)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

func readGoroutineView(t *testing.T, url string) goroutineView {
	t.Helper()
	v, err := fetchView(url)
	require.NoError(t, err)
	return v
}

// blockedWorker is a goroutine that a request starts with a plain go
// statement and that waits for the test.
func blockedWorker(release <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	<-release
}

// TestViewRequestGoroutines serves a request through baggagebridge's
// Middleware that starts a plain goroutine and waits: the view shows the
// request's method, route and selected values, and both goroutines with
// where they wait; once the request has ended, the goroutine it left is
// shown as outliving it, with the request it came from.
func TestViewRequestGoroutines(t *testing.T) {
	requireAmbient(t)
	e := newSDK(t).exporter(t)
	release, respond := make(chan struct{}), make(chan struct{})
	var workers sync.WaitGroup
	defer func() { close(release); workers.Wait() }()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		workers.Add(1)
		go blockedWorker(release, &workers)
		select {
		case <-respond:
		case <-r.Context().Done():
		}
	})
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	srv := httptest.NewServer(baggagebridge.Middleware(baggagebridge.WithPropagator(prop),
		baggagebridge.WithKeys("user.id", "secret"), baggagebridge.WithRedacted("secret"))(mux))
	defer srv.Close()
	respondOnce := sync.OnceFunc(func() { close(respond) })
	defer respondOnce() // before srv.Close, which waits for the handler
	debug := httptest.NewServer(e.Handler())
	defer debug.Close()

	answered := make(chan error, 1)
	go func() {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/users/42", nil)
		if err == nil {
			req.Header.Set("baggage", "user.id=ada,secret=s3cr3t,other=x")
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(req); err == nil {
				err = resp.Body.Close()
			}
		}
		answered <- err
	}()

	// The request, and both its goroutines parked.
	var reqID uint64
	var found goroutineView
	require.Eventually(t, func() bool {
		v, err := fetchView(debug.URL + "?format=json")
		if err != nil {
			return false
		}
		for _, r := range v.Resources {
			if r.Type == baggagebridge.TypeHTTPRequest && in(r.Goroutines, "select", "TestViewRequestGoroutines.func2") &&
				in(r.Goroutines, "chan receive", "exporter.blockedWorker") {
				reqID, found = r.ID, v
				return true
			}
		}
		return false
	}, waitFor, pollEvery)
	for _, r := range found.Resources {
		if r.ID == reqID {
			require.NotNil(t, r.Request)
			assert.Equal(t, "GET", r.Request.Method)
			assert.Equal(t, "GET /users/{id}", r.Request.Route, "the pattern, not the path")
			require.Len(t, r.Request.Values, 2)
			assert.Equal(t, "secret", r.Request.Values[0].Key)
			assert.Equal(t, "REDACTED", r.Request.Values[0].Value)
			assert.Equal(t, "user.id", r.Request.Values[1].Key)
			assert.Equal(t, "ada", r.Request.Values[1].Value)
		}
	}
	assert.Greater(t, found.Goroutines, 2)
	id := strconv.FormatUint(reqID, 10)
	_, _, text := get(t, debug.URL+"?format=text&id="+id, nil)
	assert.Regexp(t, `(?m)^http\.request `+id+`  GET /users/\{id\} secret=REDACTED user\.id=ada  age \S+$`, text)
	assert.Regexp(t, `(?m)^    1 goroutine: select\n        exporter\.TestViewRequestGoroutines\.func2  goroutines_test\.go:\d+$`, text)
	assert.Regexp(t, `(?m)^    1 goroutine: chan receive\n        exporter\.blockedWorker  goroutines_test\.go:\d+$`, text)
	_, _, page := get(t, debug.URL+"?format=html&id="+id, nil)
	assert.Contains(t, page, `<span class="req">GET /users/{id}</span> <span class="kv">secret=REDACTED</span> <span class="kv">user.id=ada</span>`)
	assert.Contains(t, page, `<span class="fn" title="github.com/otelctx/otelctx/exporter.blockedWorker">exporter.blockedWorker</span>`)

	// The request ends; its plain goroutine does not.
	respondOnce()
	require.NoError(t, <-answered)
	require.Eventually(t, func() bool {
		v, err := fetchView(debug.URL + "?format=json&id=" + id)
		found = v
		return err == nil && len(v.Outliving) == 1 && len(v.Resources) == 0
	}, waitFor, pollEvery)
	o := found.Outliving[0]
	assert.Equal(t, reqID, o.ID)
	require.NotNil(t, o.Request, "the request it came from")
	assert.Equal(t, "GET /users/{id}", o.Request.Route)
	assert.GreaterOrEqual(t, o.EndedSecondsAgo, 0.0)
	require.Len(t, o.Goroutines, 1)
	assert.True(t, o.Goroutines[0].Outlives)
	assert.True(t, in(o.Goroutines, "chan receive", "exporter.blockedWorker"))
	_, _, text = get(t, debug.URL+"?format=text&id="+id, nil)
	assert.Regexp(t, `(?m)^request `+id+`  GET /users/\{id\} secret=REDACTED user\.id=ada  ended \S+ ago  \(ended\)
    1 goroutine: chan receive  \(outlives its scope\)
        exporter\.blockedWorker  goroutines_test\.go:\d+$`, text)
}

// Functions the goroutines of TestViewGoroutineStates park in.
func recvOn(c chan struct{}) { <-c }
func sendOn(c chan struct{}) { c <- struct{}{} }
func selectOn(a, b chan struct{}) {
	select {
	case <-a:
	case <-b:
	}
}
func lockOn(mu *sync.Mutex)     { mu.Lock(); mu.Unlock() }   //nolint:staticcheck // parks
func rlockOn(mu *sync.RWMutex)  { mu.RLock(); mu.RUnlock() } //nolint:staticcheck // parks
func waitOn(wg *sync.WaitGroup) { wg.Wait() }
func acceptOn(l net.Listener) {
	c, err := l.Accept()
	if err == nil {
		_ = c.Close()
	}
}
func condWait(mu *sync.Mutex, c *sync.Cond, done *bool) {
	mu.Lock()
	for !*done {
		c.Wait()
	}
	mu.Unlock()
}

// TestViewGoroutineStates starts goroutines with plain go statements in a
// resource's scope, each parked its own way, and a goroutine that carries a
// forged scope label: the view shows the first with the state the runtime
// would name and the function each waits in, and the other under no
// execution.
func TestViewGoroutineStates(t *testing.T) {
	requireAmbient(t)
	e := newSDK(t).exporter(t)
	debug := httptest.NewServer(e.Handler())
	defer debug.Close()

	recv, send, sel := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var mu, condMu sync.Mutex
	var rw sync.RWMutex
	rw.Lock()
	cond := sync.NewCond(&condMu)
	condDone := false
	var wg sync.WaitGroup
	wg.Add(1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mu.Lock()
	var all sync.WaitGroup
	finish := make(chan struct{})
	res := asynctrack.NewResource(context.Background(), "job", "states")
	defer res.Destroy()
	all.Add(1)
	go res.Run(func(ctx context.Context) {
		defer all.Done()
		for _, fn := range []func(){
			func() { recvOn(recv) }, func() { sendOn(send) }, func() { selectOn(sel, sel) },
			func() { lockOn(&mu) }, func() { waitOn(&wg) }, func() { acceptOn(l) },
			func() { condWait(&condMu, cond, &condDone) }, func() { rlockOn(&rw) },
		} {
			all.Add(1)
			go func() { defer all.Done(); fn() }()
		}
		<-finish
	})
	// A label that names no scope leads to no execution.
	forged := make(chan struct{})
	all.Add(1)
	go pprof.Do(context.Background(), pprof.Labels("otelctx", "123456789abcdef"), func(context.Context) {
		defer all.Done()
		recvOn(forged)
	})
	defer func() {
		close(recv)
		<-send
		close(sel)
		mu.Unlock()
		rw.Unlock()
		wg.Done()
		_ = l.Close()
		condMu.Lock()
		condDone = true
		condMu.Unlock()
		cond.Broadcast()
		close(forged)
		close(finish)
		all.Wait()
	}()

	want := map[string]string{
		"chan receive":        "exporter.recvOn",
		"chan send":           "exporter.sendOn",
		"select":              "exporter.selectOn",
		"sync.Mutex.Lock":     "exporter.lockOn",
		"sync.WaitGroup.Wait": "exporter.waitOn",
		"IO wait":             "exporter.acceptOn",
		"sync.Cond.Wait":      "exporter.condWait",
		"sync.RWMutex.RLock":  "exporter.rlockOn",
	}
	id := strconv.FormatUint(res.ID(), 10)
	var v goroutineView
	assert.Eventually(t, func() bool {
		got, err := fetchView(debug.URL + "?format=json&id=" + id)
		if err != nil || len(got.Resources) != 1 {
			return false
		}
		v = got
		if len(v.Resources) != 1 {
			return false
		}
		for state, fn := range want {
			if !in(v.Resources[0].Goroutines, state, fn) {
				return false
			}
		}
		return true
	}, waitFor, pollEvery)
	if t.Failed() {
		_, _, text := get(t, debug.URL+"?format=text", nil)
		t.Fatal(text)
	}
	for _, g := range v.Resources[0].Goroutines {
		for _, f := range g.Frames {
			assert.NotContains(t, f.Function, "runtime.", "frames start outside the runtime")
		}
	}
	whole := readGoroutineView(t, debug.URL+"?format=json")
	for _, r := range whole.Resources {
		assert.False(t, in(r.Goroutines, "chan receive", "exporter.recvOn") && r.ID != res.ID(), "a forged label leads nowhere")
	}
	for _, o := range whole.Outliving {
		if o.ID == 0 {
			assert.True(t, in(o.Goroutines, "chan receive", "exporter.recvOn"), "a forged label is a scope no longer known")
		} else {
			assert.False(t, in(o.Goroutines, "chan receive", "exporter.recvOn"), "a forged label leads to no execution")
		}
	}
}

// TestViewConcurrentPages serves pages at once while a goroutine outlives
// its execution: pages that share one read of the profile each show it
// (under -race, without writing what they share).
func TestViewConcurrentPages(t *testing.T) {
	requireAmbient(t)
	e := newSDK(t).exporter(t)
	debug := httptest.NewServer(e.Handler())
	defer debug.Close()
	release := make(chan struct{})
	var workers sync.WaitGroup
	defer func() { close(release); workers.Wait() }()
	res := asynctrack.NewResource(context.Background(), "job", "leaves")
	res.Run(func(context.Context) {
		workers.Add(1)
		go blockedWorker(release, &workers)
	})
	res.Destroy()

	const pages = 8
	var wg sync.WaitGroup
	seen := make([]bool, pages)
	for i := range pages {
		wg.Go(func() {
			for range 20 { // until the goroutine has parked
				v, err := fetchView(debug.URL + "?format=json&id=" + strconv.FormatUint(res.ID(), 10))
				if err == nil && len(v.Outliving) == 1 && in(v.Outliving[0].Goroutines, "chan receive", "exporter.blockedWorker") {
					seen[i] = v.Outliving[0].Goroutines[0].Outlives
					return
				}
				time.Sleep(pollEvery)
			}
		})
	}
	wg.Wait()
	for i, ok := range seen {
		assert.True(t, ok, "page %d", i)
	}
}

// exitedWorker waits inside asynctrack.Exit, as a call through
// propagator.NewTransport does, after starting a goroutine there (as a
// transport starts a connection's).
func exitedWorker(ctx context.Context, release <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	asynctrack.Exit(ctx, func(context.Context) {
		done.Add(1)
		go blockedWorker(release, done)
		<-release
	})
}

// TestViewExitedGoroutines: a goroutine of a resource's scope that waits
// inside asynctrack.Exit, and one it started there, show under the
// resource, marked exited, while its scope is open, and nowhere once it
// has closed.
func TestViewExitedGoroutines(t *testing.T) {
	requireAmbient(t)
	e := newSDK(t).exporter(t)
	debug := httptest.NewServer(e.Handler())
	defer debug.Close()
	release, finish := make(chan struct{}), make(chan struct{})
	var workers, run sync.WaitGroup
	defer func() { close(release); workers.Wait() }()
	res := asynctrack.NewResource(context.Background(), "job", "exits")
	run.Add(1)
	go res.Run(func(ctx context.Context) {
		defer run.Done()
		workers.Add(1)
		go exitedWorker(ctx, release, &workers)
		<-finish
	})
	finished := sync.OnceFunc(func() { close(finish); run.Wait(); res.Destroy() })
	defer finished()

	id := strconv.FormatUint(res.ID(), 10)
	var v goroutineView
	require.Eventually(t, func() bool {
		got, err := fetchView(debug.URL + "?format=json&id=" + id)
		v = got
		return err == nil && len(got.Resources) == 1 && in(got.Resources[0].Goroutines, "chan receive", "exporter.exitedWorker.func1") &&
			in(got.Resources[0].Goroutines, "chan receive", "exporter.blockedWorker")
	}, waitFor, pollEvery)
	for _, g := range v.Resources[0].Goroutines {
		if in([]goroutineGroup{g}, "chan receive", "exporter.exitedWorker.func1") || in([]goroutineGroup{g}, "chan receive", "exporter.blockedWorker") {
			assert.True(t, g.Exited, "%+v", g)
		} else {
			assert.False(t, g.Exited, "the scope's own goroutine: %+v", g)
		}
	}
	_, _, text := get(t, debug.URL+"?format=text&id="+id, nil)
	assert.Contains(t, text, "1 goroutine: chan receive  (outside its scope: asynctrack.Exit)\n")

	// The scope closes: goroutines detached from it are not its.
	finished()
	require.Eventually(t, func() bool {
		got, err := fetchView(debug.URL + "?format=json")
		if err != nil {
			return false
		}
		for _, r := range got.Resources {
			if r.ID == res.ID() {
				return false
			}
		}
		for _, o := range got.Outliving {
			if in(o.Goroutines, "chan receive", "exporter.exitedWorker.func1") || in(o.Goroutines, "chan receive", "exporter.blockedWorker") {
				return false
			}
		}
		return true
	}, waitFor, pollEvery)
}
