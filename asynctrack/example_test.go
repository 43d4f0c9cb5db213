// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/otelctx/otelctx/asynctrack"
)

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
	r := asynctrack.NewResource(context.Background(), "http.request", nil)
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

func ExampleResource() {
	// A message queue's consumer: one resource per message, run later on
	// whatever goroutine delivers it.
	msg := asynctrack.NewResource(context.Background(), "queue.message", "order-7")
	msg.Run(func(ctx context.Context) {
		fmt.Println("handling in execution of the message:", asynctrack.ExecutionID(ctx) == msg.ID())
	})
	msg.Destroy()
	// Output: handling in execution of the message: true
}
