// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"encoding/binary"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// budget counts the spans started per trace and refuses them past max.
//
// A trace has no end the Instrumentation could observe, so the counts cannot be
// freed when their trace ends. Instead each shard keeps two generations:
// when the current one holds budgetTraces traces, it becomes the previous one
// and the older previous one is dropped. A trace's count survives as long as
// fewer than that many other traces (per shard) start async spans after it;
// memory stays bounded at 2 × budgetShards × budgetTraces counts (about a
// MiB) however many traces pass.
type budget struct {
	max    int
	shards [budgetShards]budgetShard
}

const (
	budgetShards = 64
	budgetTraces = 256 // per shard and generation: 16384 traces in all
)

type budgetShard struct {
	mu        sync.Mutex
	cur, prev map[trace.TraceID]int
	_         [40]byte // a cache line per shard
}

func newBudget(max int) *budget {
	b := &budget{max: max}
	for i := range b.shards {
		b.shards[i].cur = make(map[trace.TraceID]int)
	}
	return b
}

// take reports whether trace id may start one more span, and counts it if so.
// It is called only for sampled resources of selected types, right before a
// span start that costs far more than its lock.
func (b *budget) take(id trace.TraceID) bool {
	// The low bytes of a trace ID are random (W3C Trace Context, level 2).
	s := &b.shards[binary.LittleEndian.Uint64(id[8:])%budgetShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.cur[id]
	if !ok {
		n = s.prev[id]
		if len(s.cur) >= budgetTraces {
			s.prev, s.cur = s.cur, make(map[trace.TraceID]int, budgetTraces)
		}
	}
	if n >= b.max {
		s.cur[id] = n // keep an exhausted trace in the current generation
		return false
	}
	s.cur[id] = n + 1
	return true
}
