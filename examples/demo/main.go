// Command demo starts a small service on loopback, sends it a burst of
// concurrent requests for different users and prints, per request, which
// user every piece of its work saw and the tree of async resources it made.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/otelctx/otelctx/asynctrack"
)

var user = asynctrack.NewStore[string]()

// whoAmI takes no ctx: it reads the request's user ambiently.
func whoAmI() string {
	u, _ := user.Current()
	return u
}

func main() {
	if err := run(os.Stdout, 8); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(out io.Writer, requests int) error {
	tree := newTree()
	hook := asynctrack.NewHook(asynctrack.HookFuncs{Init: tree.init}).Enable()
	defer hook.Disable()
	pool := asynctrack.NewPool(context.Background(), 2)
	defer pool.Close()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := asynctrack.NewResource(r.Context(), asynctrack.TypeHTTPRequest, r.URL.Path)
		defer req.Destroy()
		req.Run(func(ctx context.Context) {
			user.Run(ctx, r.Header.Get("userid"), func(ctx context.Context) {
				seen := make(chan string, 3)
				var wg sync.WaitGroup
				wg.Add(3)
				asynctrack.Go(ctx, func(ctx context.Context) {
					defer wg.Done()
					seen <- "goroutine:" + whoAmI()
					go func() { defer wg.Done(); seen <- "plain go:" + whoAmI() }()
				})
				if err := pool.Submit(ctx, func(context.Context) {
					defer wg.Done()
					seen <- "pool task:" + whoAmI()
				}); err != nil {
					wg.Done()
				}
				wg.Wait()
				close(seen)
				var parts []string
				for s := range seen {
					parts = append(parts, s)
				}
				sort.Strings(parts)
				fmt.Fprintf(w, "%d %s", req.ID(), strings.Join(parts, " "))
			})
		})
	}))
	defer srv.Close()

	fmt.Fprintf(out, "sending %d concurrent requests to %s\n", requests, srv.URL)
	results := make([]string, requests)
	var wg sync.WaitGroup
	var progress sync.Mutex // out need not be safe for concurrent use
	errs := make(chan error, requests)
	for i := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/users/me", nil)
			req.Header.Set("userid", fmt.Sprintf("user-%d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				errs <- err
				return
			}
			results[i] = string(body)
			progress.Lock()
			fmt.Fprint(out, ".")
			progress.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	fmt.Fprintln(out)
	for err := range errs {
		return err
	}
	for i, res := range results {
		var id uint64
		var rest string
		fmt.Sscanf(res, "%d", &id)
		rest = strings.TrimSpace(strings.TrimPrefix(res, fmt.Sprint(id)))
		fmt.Fprintf(out, "request for user-%d saw: %s\n", i, rest)
		tree.print(out, id, "  ")
	}
	return nil
}

// tree records Init events and prints the resources triggered by one.
type tree struct {
	mu       sync.Mutex
	children map[uint64][]node
}

type node struct {
	id  uint64
	typ string
}

func newTree() *tree { return &tree{children: map[uint64][]node{}} }

func (t *tree) init(_ context.Context, id uint64, typ string, trigger uint64, _ any) {
	t.mu.Lock()
	t.children[trigger] = append(t.children[trigger], node{id, typ})
	t.mu.Unlock()
}

func (t *tree) print(out io.Writer, id uint64, indent string) {
	fmt.Fprintf(out, "%shttp.request #%d\n", indent, id)
	t.printChildren(out, id, indent+"  ")
}

func (t *tree) printChildren(out io.Writer, id uint64, indent string) {
	t.mu.Lock()
	kids := append([]node(nil), t.children[id]...)
	t.mu.Unlock()
	for _, k := range kids {
		fmt.Fprintf(out, "%s└ %s #%d\n", indent, k.typ, k.id)
		t.printChildren(out, k.id, indent+"  ")
	}
}
