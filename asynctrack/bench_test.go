// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"runtime/pprof"
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
	// The floor of any Go that hands its callback a ctx of its own: a go
	// statement that also allocates an execution, as Go must, and tracks
	// nothing.
	b.Run("plain_frame", func(b *testing.B) {
		var wg sync.WaitGroup
		done := func(context.Context) { wg.Done() }
		spawnAndJoin(b, &wg, func() {
			e := &execution{fn: done}
			e.frame.Context = context.Background()
			go e.fn(&e.frame)
		})
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

// BenchmarkGoParallel spawns and joins goroutines from every P at once (run
// it with -cpu 2 or more): what Go adds when every core starts goroutines,
// with no listener.
func BenchmarkGoParallel(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var wg sync.WaitGroup
			spawnAndJoinParallel(pb, &wg, func() { go func() { wg.Done() }() })
		})
	})
	b.Run("tracked", func(b *testing.B) {
		b.ReportAllocs()
		NewStore[string]().Run(context.Background(), "value", func(ctx context.Context) {
			b.RunParallel(func(pb *testing.PB) {
				var wg sync.WaitGroup
				done := func(context.Context) { wg.Done() }
				spawnAndJoinParallel(pb, &wg, func() { Go(ctx, done) })
			})
		})
	})
}

func spawnAndJoinParallel(pb *testing.PB, wg *sync.WaitGroup, spawn func()) {
	n := 0
	for pb.Next() {
		wg.Add(1)
		spawn()
		if n++; n%joinEvery == 0 {
			wg.Wait()
		}
	}
	wg.Wait()
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

// BenchmarkAmbientLookupUserLabels is BenchmarkAmbientLookup on a goroutine
// whose labels the user changed with pprof.Do: the lookup reads the scope's
// token through pprof and finds it in the table.
func BenchmarkAmbientLookupUserLabels(b *testing.B) {
	store := NewStore[string]()
	store.Run(context.Background(), "value", func(ctx context.Context) {
		pprof.Do(ctx, pprof.Labels("team", "payments"), func(context.Context) {
			b.ReportAllocs()
			for b.Loop() {
				if v, _ := store.Current(); v != "value" {
					b.Fatal(v)
				}
			}
		})
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
