// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/otelctx/otelctx/internal/scopehook"
)

func init() {
	scopehook.Execution = scopeExecution
	scopehook.Watch = closed.watch
	scopehook.Leave, scopehook.Back = leaveScopes, backToScope
}

// scopeExecution resolves the value of a scope's label to the execution
// the scope resolves to: through the open scopes, then the closed ones
// remembered while watched.
func scopeExecution(v string) (id uint64, open, ok bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false, false
	}
	token, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return 0, false, false
	}
	if s := scopes.get(token); s != nil && s.refs.Load() > 0 {
		return s.frame.ID(), true, true
	}
	if id, ok := closed.get(token); ok {
		return id, false, true
	}
	return 0, false, false
}

// closed remembers the executions of the last closed scopes by token while
// watched: closedShards rings of closedPerShard each, so that scopes
// closing on every core rarely share a lock, and the memory is fixed.
var closed closedTable

const (
	closedShards   = 16
	closedPerShard = 1024 // 16,384 closed scopes in all: 256 KiB
)

type closedTable struct {
	watchers atomic.Int32
	shards   [closedShards]struct {
		mu   sync.Mutex
		ring [closedPerShard]closedScope
		next int
		_    [48]byte
	}
}

type closedScope struct{ token, id uint64 }

func (t *closedTable) watch() (stop func()) {
	t.watchers.Add(1)
	var once sync.Once
	return func() { once.Do(func() { t.watchers.Add(-1) }) }
}

// watched reports whether anyone watches.
func (t *closedTable) watched() bool { return t.watchers.Load() > 0 }

// add remembers that s has closed, if anyone watches. Its cost is one
// atomic load while nobody does.
func (t *closedTable) add(s *scope) {
	if t.watchers.Load() == 0 {
		return
	}
	id := s.frame.ID()
	if id == 0 {
		return // a scope of no execution: nothing to tell
	}
	sh := &t.shards[s.token%closedShards]
	sh.mu.Lock()
	sh.ring[sh.next] = closedScope{s.token, id}
	sh.next = (sh.next + 1) % closedPerShard
	sh.mu.Unlock()
}

func (t *closedTable) get(token uint64) (uint64, bool) {
	sh := &t.shards[token%closedShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, c := range sh.ring {
		if c.token == token && c.id != 0 { // a zero entry was never written
			return c.id, true
		}
	}
	return 0, false
}
