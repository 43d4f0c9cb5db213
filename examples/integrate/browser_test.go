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
)

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

// TestBrowserLiveView loads the live-resource page of the running service in
// headless Chromium during a burst of requests, and checks the tree it
// renders: a leaked goroutine under the request that started it, counts, and
// hostile resource names shown as text, never run.
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
	defer func() { close(stop); burst.Wait() }()

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

	dir := os.Getenv("OTELCTX_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, "otelctx-live-view.png")
	require.NoError(t, os.WriteFile(path, shot, 0o644))
	t.Logf("screenshot of the live view: %s", path)
}
