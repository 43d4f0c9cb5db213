package asynctrack

import (
	"context"
	"sync"
	"testing"
)

// joinEvery bounds the goroutines in flight in BenchmarkGo, as a fan-out of
// a request would; an unbounded backlog measures the scheduler's queues.
const joinEvery = 64

// BenchmarkGo compares spawning and joining a goroutine with a plain go
// statement against Go, with and without a listener.
func BenchmarkGo(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		var wg sync.WaitGroup
		spawnAndJoin(b, &wg, func() { go func() { wg.Done() }() })
	})
	b.Run("tracked", func(b *testing.B) {
		var wg sync.WaitGroup
		ctx := context.Background()
		done := func(context.Context) { wg.Done() }
		spawnAndJoin(b, &wg, func() { Go(ctx, done) })
	})
	// Go from a ctx this package made, as a callback or a request's
	// handler has it, and from one wrapped by another package.
	b.Run("tracked_store", func(b *testing.B) {
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		NewStore[string]().Run(context.Background(), "value", func(ctx context.Context) {
			spawnAndJoin(b, &wg, func() { Go(ctx, done) })
		})
	})
	b.Run("tracked_store_wrapped", func(b *testing.B) {
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		NewStore[string]().Run(context.Background(), "value", func(ctx context.Context) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			spawnAndJoin(b, &wg, func() { Go(ctx, done) })
		})
	})
	b.Run("tracked_hook_store", func(b *testing.B) {
		h := NewHook(HookFuncs{
			Init:    func(context.Context, uint64, string, uint64, any) {},
			Before:  func(uint64) {},
			After:   func(uint64) {},
			Destroy: func(uint64) {},
		}).Enable()
		defer h.Disable()
		store := NewStore[string]()
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		store.Run(context.Background(), "value", func(ctx context.Context) {
			spawnAndJoin(b, &wg, func() { Go(ctx, done) })
		})
	})
}

// BenchmarkGoFloor prices, beside BenchmarkGo's plain row, go statements
// whose closures have the sizes of the one allocation Go makes, 32 bytes for
// a goroutine and 48 for an execution (see frame.go), and call a
// func(context.Context) as Go's do, but track nothing: what Go costs before
// any tracking.
func BenchmarkGoFloor(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		var wg sync.WaitGroup
		spawnAndJoin(b, &wg, func() { go func() { wg.Done() }() })
	})
	ctx := context.Background()
	b.Run("closure_32B", func(b *testing.B) {
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		spawnAndJoin(b, &wg, func() {
			go func() { done(ctx) }()
		})
	})
	b.Run("closure_48B", func(b *testing.B) {
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		spawnAndJoin(b, &wg, func() {
			var id uint64 = 1
			go func() {
				_ = id
				done(ctx)
			}()
		})
	})
}

// spawnAndJoin calls spawn, which starts one goroutine that calls wg.Done,
// b.N times, joining every joinEvery spawns.
func spawnAndJoin(b *testing.B, wg *sync.WaitGroup, spawn func()) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		wg.Add(1)
		spawn()
		if n++; n%joinEvery == 0 {
			wg.Wait()
		}
	}
	wg.Wait()
}

// BenchmarkAmbientLookup reads a store value with no ctx inside a tracked
// goroutine.
func BenchmarkAmbientLookup(b *testing.B) {
	store := NewStore[string]()
	store.Run(context.Background(), "value", func(ctx context.Context) {
		done := make(chan struct{})
		Go(ctx, func(context.Context) {
			defer close(done)
			b.ReportAllocs()
			for b.Loop() {
				if v, _ := store.Current(); v != "value" {
					b.Fatal(v)
				}
			}
		})
		<-done
	})
}

// BenchmarkCtxLookup reads a store value from the ctx of a tracked goroutine.
func BenchmarkCtxLookup(b *testing.B) {
	store := NewStore[string]()
	store.Run(context.Background(), "value", func(ctx context.Context) {
		done := make(chan struct{})
		Go(ctx, func(ctx context.Context) {
			defer close(done)
			b.ReportAllocs()
			for b.Loop() {
				if v, _ := store.Value(ctx); v != "value" {
					b.Fatal(v)
				}
			}
		})
		<-done
	})
}
