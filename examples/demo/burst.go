// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"cmp"
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
// for the seeded users in turn.
func burst(ctx context.Context, url string, n int) []result {
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			r := &results[i]
			r.user = userservice.Users[i%len(userservice.Users)].ID
			r.code, r.resp, r.err = get(ctx, client, url+"/profile", r.user)
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

// places are where a request's work runs, as the verdict names them.
const places = "handler · goroutine · plain go · pool task · timer · backend (HTTP) · greeter and its goroutine (gRPC)"

// check returns how many places the request's work ran in, and those that
// did not see its user, or saw another request's session: none for a
// request whose every place saw its own.
func (r *result) check() (seen int, wrong []string) {
	if r.err != nil {
		return 0, []string{r.err.Error()}
	}
	if r.code != http.StatusOK || r.resp.User != r.user || len(r.resp.Seen) == 0 {
		wrong = append(wrong, fmt.Sprintf("answered %d %s for %q", r.code, http.StatusText(r.code), r.resp.User))
	}
	for _, s := range r.resp.Seen {
		seen++
		if s.User != r.user || s.Session != r.resp.Session {
			wrong = append(wrong, fmt.Sprintf("%s saw %q (request #%d)", s.Where, s.User, s.Session))
		}
	}
	if u := r.resp.Backend.User; u != nil && u.ID == r.user {
		seen++
	} else {
		wrong = append(wrong, "backend: "+cmp.Or(r.resp.Backend.Error, "another user"))
	}
	g := r.resp.Greeting
	if g.Text == "" {
		wrong = append(wrong, "greeter: "+r.resp.Error)
	}
	for _, s := range g.Seen {
		seen++
		if s.User != r.user || s.Session != 0 {
			wrong = append(wrong, fmt.Sprintf("%s saw %q", s.Where, s.User))
		}
	}
	return seen, wrong
}

// verdict writes the verdict and one line per request, and returns the
// number of requests some place of which did not see their user.
func verdict(out io.Writer, results []result, elapsed time.Duration, upstream, leaks int64) int {
	bad := 0
	var rows strings.Builder
	for _, r := range results {
		seen, wrong := r.check()
		mark := fmt.Sprintf("✓ all %d places", seen)
		if len(wrong) > 0 {
			bad++
			mark = "✗ " + strings.Join(wrong, "; ")
		}
		id := "#?"
		if r.resp.Session != 0 {
			id = fmt.Sprintf("#%d", r.resp.Session)
		}
		fmt.Fprintf(&rows, "%-8s %-8s %-7s %s\n", id, r.user, answer(r), mark)
	}
	users := map[string]bool{}
	for _, r := range results {
		users[r.user] = true
	}
	mark := "✓"
	if bad > 0 || leaks > 0 {
		mark = "✗"
	}
	fmt.Fprintf(out, "%s %d concurrent requests, %d users: %d mismatches (a place that saw another request's user, or none);\n",
		mark, len(results), len(users), bad)
	fmt.Fprintf(out, "  the upstream, a third party, got %d requests, %d with baggage or a userid header. All answered in %s.\n",
		upstream, leaks, elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "%-8s %-8s %-7s %s\n", "request", "user", "answer", "its work saw its user in")
	fmt.Fprint(out, rows.String())
	fmt.Fprintf(out, "places: %s\n", places)
	return bad
}

func answer(r result) string {
	if r.err != nil {
		return "failed"
	}
	return fmt.Sprintf("%d %s", r.code, http.StatusText(r.code))
}

// tree writes the request's span tree with its async work and, if the live
// view caught it, where its goroutines waited.
func (r *result) tree(out io.Writer, spans forest, live liveView, caught bool) {
	if r.err != nil {
		fmt.Fprintf(out, "request for %s failed: %v\n", r.user, r.err)
		return
	}
	waited := "and where its goroutines waited (⏸) as the live view saw them mid-flight:"
	if !caught {
		waited = "(the live view did not catch it waiting before the upstream's hold ran out):"
	}
	fmt.Fprintf(out, "Request #%d of %s, trace %s: its spans, its async work\n(async #n ← #m: execution n, started by m) %s\n",
		r.resp.Session, r.user, r.resp.TraceID, waited)
	spans.print(out, r.resp.TraceID, live.waits(r.resp.TraceID))
}
