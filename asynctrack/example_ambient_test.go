// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

//go:build !otelctx_nolinkname

// These examples read values without a ctx, which builds with the
// otelctx_nolinkname tag do not support.

package asynctrack_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/otelctx/otelctx/asynctrack"
)

var userID = asynctrack.NewStore[string]()

// getCurrentUser takes no ctx, like the seed article's getCurrentUser: it
// reads the request's user from the ambient scope.
func getCurrentUser() string {
	id, ok := userID.Current()
	if !ok {
		return "anonymous"
	}
	return "user " + id
}

// The seed article's request context: set the user once where the request
// starts, read it deep inside, without passing it along.
func Example() {
	handle := func(ctx context.Context, user string) string {
		var result string
		userID.Run(ctx, user, func(ctx context.Context) {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { // even a plain go statement, from code we don't own
				defer wg.Done()
				result = getCurrentUser()
			}()
			wg.Wait()
		})
		return result
	}
	fmt.Println(handle(context.Background(), "42"))
	fmt.Println(getCurrentUser())
	// Output:
	// user 42
	// anonymous
}

func ExampleStore_Run() {
	tenant := asynctrack.NewStore[string]()
	tenant.Run(context.Background(), "acme", func(ctx context.Context) {
		tenant.Run(ctx, "globex", func(ctx context.Context) {
			v, _ := tenant.Current()
			fmt.Println("inner:", v)
		})
		v, _ := tenant.Current()
		fmt.Println("outer:", v)
	})
	// Output:
	// inner: globex
	// outer: acme
}

func ExamplePool() {
	user := asynctrack.NewStore[string]()
	pool := asynctrack.NewPool(context.Background(), 2)
	defer pool.Close()

	results := make(chan string, 2)
	for _, name := range []string{"ada", "grace"} {
		user.Run(context.Background(), name, func(ctx context.Context) {
			// The task runs on a worker that existed before the request,
			// yet sees the submitter's value.
			_ = pool.Submit(ctx, func(context.Context) {
				v, _ := user.Current()
				results <- v
			})
		})
	}
	a, b := <-results, <-results
	fmt.Println(a == "ada" || b == "ada", a == "grace" || b == "grace")
	// Output: true true
}

// A worker started once, inside whichever request happens to need it first,
// must not carry that request's values for the rest of its life.
func ExampleExit() {
	user := asynctrack.NewStore[string]()
	var once sync.Once
	jobs := make(chan string)
	done := make(chan struct{})
	startWorker := func(ctx context.Context) {
		asynctrack.Exit(ctx, func(context.Context) {
			go func() { // a plain go statement, as a library would write it
				defer close(done)
				for job := range jobs {
					u, ok := user.Current()
					fmt.Printf("%s: user %q, %v\n", job, u, ok)
				}
			}()
		})
	}
	user.Run(context.Background(), "ada", func(ctx context.Context) {
		once.Do(func() { startWorker(ctx) })
		jobs <- "refresh"
	})
	close(jobs)
	<-done
	// Output:
	// refresh: user "", false
}
