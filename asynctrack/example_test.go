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

func ExampleNewHook() {
	var mu sync.Mutex
	var events []string
	record := func(e string) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	hook := asynctrack.NewHook(asynctrack.HookFuncs{
		Init:    func(_ context.Context, _ uint64, typ string, _ uint64, _ any) { record("init " + typ) },
		Before:  func(uint64) { record("before") },
		After:   func(uint64) { record("after") },
		Destroy: func(uint64) { record("destroy") },
	}).Enable()
	defer hook.Disable()

	run := asynctrack.Bind(context.Background(), func(context.Context) { record("task runs") })
	run()

	fmt.Println(events)
	// Output: [init task before task runs after destroy]
}

func ExampleGo() {
	r := asynctrack.NewResource(context.Background(), asynctrack.TypeHTTPRequest, nil)
	defer r.Destroy()
	done := make(chan bool)
	r.Run(func(ctx context.Context) {
		asynctrack.Go(ctx, func(ctx context.Context) {
			done <- asynctrack.TriggerID(ctx) == r.ID()
		})
	})
	fmt.Println("triggered by the request:", <-done)
	// Output: triggered by the request: true
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

func ExampleResource() {
	// A message queue's consumer: one resource per message, run later on
	// whatever goroutine delivers it.
	msg := asynctrack.NewResource(context.Background(), "queue.message", "order-7")
	deliver := msg.Bind(func(ctx context.Context) {
		fmt.Println("handling in execution of the message:", asynctrack.ExecutionID(ctx) == msg.ID())
	})
	deliver()
	msg.Destroy()
	// Output: handling in execution of the message: true
}
