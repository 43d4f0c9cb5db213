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
// whose closures have the size of the one allocation Go makes (48 B) and of
// larger ones, doing nothing else: what a goroutine-specific ctx costs
// here before any tracking. The spawner's heap is tiny, so every byte
// allocated per spawn is paid in GC cycles.
func BenchmarkGoFloor(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		var wg sync.WaitGroup
		spawnAndJoin(b, &wg, func() { go func() { wg.Done() }() })
	})
	ctx := context.Background()
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
	b.Run("closure_64B", func(b *testing.B) {
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		spawnAndJoin(b, &wg, func() {
			var id, trigger, values uint64 = 1, 2, 3
			go func() {
				_, _, _ = id, trigger, values
				done(ctx)
			}()
		})
	})
	b.Run("closure_80B", func(b *testing.B) {
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		spawnAndJoin(b, &wg, func() {
			var id, trigger, values, scope uint64 = 1, 2, 3, 4
			hooks := &wg
			go func() {
				_, _, _, _, _ = id, trigger, values, scope, hooks
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
