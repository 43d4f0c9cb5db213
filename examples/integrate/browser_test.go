// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
)

func getBody(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// chromium returns the path of the browser, or skips the test outside CI.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no chromium: .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium on PATH: install it (Debian: apt-get install chromium) to run the browser test")
	return ""
}

// slowHandler is a handler that waits for the test, after starting a
// goroutine with a plain go statement that waits too.
func slowHandler(release <-chan struct{}, workers *sync.WaitGroup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		workers.Add(1)
		go waitForRelease(release, workers)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
}

// leaveHandler answers at once, leaving a plain goroutine behind.
func leaveHandler(release <-chan struct{}, workers *sync.WaitGroup) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		workers.Add(1)
		go waitForRelease(release, workers)
	}
}

func waitForRelease(release <-chan struct{}, workers *sync.WaitGroup) {
	defer workers.Done()
	<-release
}

// TestBrowserLiveView loads the live-resource page of the running service in
// headless Chromium during a burst of requests, and checks the tree it
// renders: a leaked goroutine under the request that started it, counts,
// hostile resource names shown as text, never run, a waiting request with
// its route, its user and where its goroutines wait, and the goroutine a
// request left behind, marked as outliving it.
func TestBrowserLiveView(t *testing.T) {
	browser := chromium(t)
	rec := tracetest.NewSpanRecorder()
	handler, debug, shutdown := setup(rec)
	srv := httptest.NewServer(handler)
	defer srv.Close()
	debugSrv := httptest.NewServer(debug)
	defer debugSrv.Close()
	defer func() { require.NoError(t, shutdown(context.Background())) }()

	// A request that leaves a goroutine behind, and a resource whose type
	// and name are hostile markup.
	release := make(chan struct{})
	var leaked sync.WaitGroup
	leaked.Add(1)
	req := asynctrack.NewResource(context.Background(), "http.request", "GET /leak")
	leakedID := make(chan uint64, 1)
	req.Run(func(ctx context.Context) {
		asynctrack.Go(ctx, func(ctx context.Context) {
			defer leaked.Done()
			leakedID <- asynctrack.ExecutionID(ctx)
			<-release
		})
	})
	req.Destroy()
	defer func() { close(release); leaked.Wait() }()
	hostile := asynctrack.NewResource(context.Background(), `<img src=x onerror="window.pwned=1">`, `<script>window.pwned=2</script>`)
	defer hostile.Destroy()
	id := <-leakedID

	// A request that waits, and one that leaves a goroutine behind, served
	// through the same middleware as the service's, with hostile values.
	wait := make(chan struct{})
	var workers sync.WaitGroup
	slowMux := http.NewServeMux()
	slowMux.Handle("GET /slow/{id}", slowHandler(wait, &workers))
	slowMux.Handle("GET /leave", leaveHandler(wait, &workers))
	slowSrv := httptest.NewServer(baggagebridge.Middleware()(slowMux))
	defer slowSrv.Close()
	slowClient := &http.Client{Transport: &http.Transport{}}
	defer slowClient.CloseIdleConnections()
	send := func(path, bag string) error {
		r, err := http.NewRequest(http.MethodGet, slowSrv.URL+path, nil)
		if err != nil {
			return err
		}
		r.Header.Set("baggage", bag)
		resp, err := slowClient.Do(r)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	slowDone := make(chan error, 1)
	go func() { slowDone <- send("/slow/7", "user.id=ada,tenant.id=%3Cb%3Ehostile%3C%2Fb%3E") }()
	defer func() {
		close(wait)
		assert.NoError(t, <-slowDone)
		workers.Wait()
	}()
	var body string
	assert.Eventually(t, func() bool {
		_, body = getBody(t, debugSrv.URL+"/debug/async?format=text")
		return strings.Contains(body, "GET /slow/{id}") && strings.Contains(body, "integrate.waitForRelease")
	}, 10*time.Second, 10*time.Millisecond)
	if t.Failed() {
		t.Fatal(body)
	}

	// A burst of requests while the page loads.
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	stop := make(chan struct{})
	var burst sync.WaitGroup
	for w := range 8 {
		burst.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := http.NewRequest(http.MethodGet, srv.URL+"/hello", nil)
				if !assert.NoError(t, err) {
					return
				}
				r.Header.Set("baggage", fmt.Sprintf("user.id=%d", w*1000+i))
				resp, err := client.Do(r)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				time.Sleep(5 * time.Millisecond) // a burst, not a siege of the two cores
			}
		})
	}
	stopBurst := sync.OnceFunc(func() { close(stop); burst.Wait() })
	defer stopBurst()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Flag("headless", true), chromedp.WindowSize(1280, 1600))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(debugSrv.URL+"/debug/async?format=html")))
	eval := func(expr string, dst any) {
		t.Helper()
		var err error
		switch d := dst.(type) {
		case *int:
			*d, err = chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		case *bool:
			*d, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		case *string:
			*d, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		}
		require.NoError(t, err, expr)
	}
	var total, items, imgs int
	var pwned bool
	var treeText, parentOfLeaked string
	eval(`parseInt(document.getElementById("total").textContent, 10)`, &total)
	eval(`document.querySelectorAll("#tree li").length`, &items)
	eval(`document.querySelectorAll("#tree img, #tree script").length`, &imgs)
	eval(`window.pwned === 1 || window.pwned === 2`, &pwned)
	eval(`document.getElementById("tree").innerText`, &treeText)
	eval(`(function () {
		var li = document.querySelector('#tree li[data-id="`+strconv.FormatUint(id, 10)+`"]');
		var p = li && li.parentNode.closest("li");
		return p ? p.dataset.id + " " + p.querySelector("summary").innerText : "";
	})()`, &parentOfLeaked)
	// A request that leaves a goroutine behind, once the burst is over: the
	// exporter remembers the scopes of the last requests to end.
	stopBurst()
	require.NoError(t, send("/leave", "user.id=grace"))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(debugSrv.URL+"/debug/async?format=html")))
	var slowRow, slowGoroutines, outliving string
	eval(`(function () {
		var s = Array.from(document.querySelectorAll("#tree summary")).find(function (s) { return s.innerText.indexOf("GET /slow/{id}") >= 0; });
		return s ? s.innerText : "";
	})()`, &slowRow)
	eval(`(function () {
		var s = Array.from(document.querySelectorAll("#tree summary")).find(function (s) { return s.innerText.indexOf("GET /slow/{id}") >= 0; });
		var gs = s && s.parentNode.querySelector("ul.gs");
		return gs ? gs.innerText : "";
	})()`, &slowGoroutines)
	eval(`document.getElementById("outliving").innerText`, &outliving)
	eval(`document.querySelectorAll("#tree b, #outliving b").length`, &imgs)
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	require.NoError(t, err)

	assert.GreaterOrEqual(t, total, 2, "the leaked goroutine and the hostile resource, with whatever the burst has in flight")
	assert.GreaterOrEqual(t, items, 3, "with the leaked goroutine's request")
	assert.Zero(t, imgs, "hostile names became elements")
	assert.False(t, pwned, "hostile names ran as script")
	assert.Contains(t, treeText, `<img src=x onerror="window.pwned=1">`, "shown as text")
	assert.Contains(t, treeText, `<script>window.pwned=2</script>`)
	assert.Equal(t, strconv.FormatUint(req.ID(), 10), strings.Fields(parentOfLeaked + " ")[0], "the leaked goroutine hangs under its request")
	assert.Contains(t, parentOfLeaked, "http.request")
	assert.Contains(t, parentOfLeaked, "(done)", "the request has ended")
	assert.Regexp(t, `^http\.request #\d+ GET /slow/\{id\} tenant\.id=<b>hostile</b> user\.id=ada `, slowRow, "method, route and values")
	assert.Zero(t, imgs, "hostile values became elements")
	assert.Regexp(t, `1 goroutine: select\n(?s:.*)slowHandler\.func\d+ browser_test\.go:\d+`, slowGoroutines, "the handler waits in a select")
	assert.Regexp(t, `1 goroutine: chan receive\n(?s:.*)integrate\.waitForRelease browser_test\.go:\d+`, slowGoroutines, "its plain goroutine on a channel")
	assert.Regexp(t, `request #\d+ GET /leave user\.id=grace ended \S+ ago \(ended\)\n1 goroutine: chan receive outlives its scope\n(?s:.*)integrate\.waitForRelease`, outliving,
		"the goroutine a request left behind, with the request")

	dir := os.Getenv("OTELCTX_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "otelctx-live-view.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("screenshot of the live view: %s", path)
}
