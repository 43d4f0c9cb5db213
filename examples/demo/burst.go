// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/otelctx/otelctx/examples/telemetry"
	"github.com/otelctx/otelctx/examples/twoservices"
	"github.com/otelctx/otelctx/examples/userservice"
)

// result is one request of the burst and its answer.
type result struct {
	user    string
	code    int
	resp    twoservices.Response
	elapsed time.Duration
	err     error
}

// burst sends n concurrent GET /profile requests to the frontend at url,
// for the seeded users in turn, calling done after each answer.
func burst(ctx context.Context, url string, n int, done func()) []result {
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	results := make([]result, n)
	var mu sync.Mutex // done need not be safe for concurrent use
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			r.user = userservice.Users[i%len(userservice.Users)].ID
			start := time.Now()
			r.code, r.resp, r.err = get(ctx, client, url+"/profile", r.user)
			r.elapsed = time.Since(start)
			mu.Lock()
			done()
			mu.Unlock()
		})
	}
	wg.Wait()
	return results
}

func get(ctx context.Context, c *http.Client, url, user string) (int, twoservices.Response, error) {
	var resp twoservices.Response
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, resp, err
	}
	req.Header.Set(telemetry.LegacyUserHeader, user)
	res, err := c.Do(req)
	if err != nil {
		return 0, resp, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, resp, err
	}
	return res.StatusCode, resp, json.Unmarshal(body, &resp)
}

// print writes the request's summary and span tree, and reports whether
// every piece of its work saw its user.
func (r *result) print(out io.Writer, n int, spans forest) bool {
	if r.err != nil {
		fmt.Fprintf(out, "#%d userid: %s  failed: %v\n\n", n, r.user, r.err)
		return false
	}
	fmt.Fprintf(out, "#%d userid: %-8s → %d %s in %s   trace %s\n", n, r.user, r.code, http.StatusText(r.code),
		r.elapsed.Round(100*time.Microsecond), r.resp.TraceID)

	ok := r.code == http.StatusOK && r.resp.User == r.user && len(r.resp.Seen) > 0
	var seen []string
	for _, s := range r.resp.Seen {
		mark := ""
		if s.User != r.user || s.Session != r.resp.Session {
			mark, ok = " ✗", false
		}
		seen = append(seen, fmt.Sprintf("%s %s%s", s.Where, s.User, mark))
	}
	fmt.Fprintf(out, "   request #%d saw: %s\n", r.resp.Session, strings.Join(seen, " · "))
	fmt.Fprintf(out, "   and its local session value in each of them; neither the backend nor the greeter got it\n")
	if u := r.resp.Backend.User; u != nil {
		mark := ""
		if u.ID != r.user {
			mark, ok = " ✗", false
		}
		fmt.Fprintf(out, "   backend, from baggage: %s (%s)%s\n", u.ID, u.Name, mark)
	} else {
		ok = false
		fmt.Fprintf(out, "   backend: %s\n", r.resp.Backend.Error)
	}
	if g := r.resp.Greeting; g.Text != "" {
		var seen []string
		for _, s := range g.Seen {
			mark := ""
			if s.User != r.user || s.Session != 0 {
				mark, ok = " ✗", false
			}
			seen = append(seen, fmt.Sprintf("%s %s%s", s.Where, s.User, mark))
		}
		fmt.Fprintf(out, "   greeter, over gRPC, from baggage: %s  saw: %s\n", g.Text, strings.Join(seen, " · "))
	} else {
		ok = false
		fmt.Fprintf(out, "   greeter: %s\n", r.resp.Error)
	}
	spans.print(out, r.resp.TraceID, "   ")
	fmt.Fprintln(out)
	return ok
}
