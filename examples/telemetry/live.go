// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package telemetry

import (
	"context"
	"sync"

	"github.com/otelctx/otelctx/asynctrack"
)

// LiveResources counts the live asynctrack resources by type with a hook of
// its own: what the demo and the tests wait on before they call the work
// of a request done. It is safe for concurrent use.
type LiveResources struct {
	hook  *asynctrack.Hook
	mu    sync.Mutex
	types map[uint64]string // live resource ID -> type
}

// NewLiveResources returns a LiveResources that counts the resources
// created from now on, until Close.
func NewLiveResources() *LiveResources {
	l := &LiveResources{types: make(map[uint64]string)}
	l.hook = asynctrack.NewHook(asynctrack.HookFuncs{
		Init: func(_ context.Context, id uint64, typ string, _ uint64, _ any) {
			l.mu.Lock()
			l.types[id] = typ
			l.mu.Unlock()
		},
		Destroy: func(id uint64) {
			l.mu.Lock()
			delete(l.types, id)
			l.mu.Unlock()
		},
	}).Enable()
	return l
}

// CountByType returns the number of live resources of each type.
func (l *LiveResources) CountByType() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := make(map[string]int)
	for _, typ := range l.types {
		n[typ]++
	}
	return n
}

// Close stops counting.
func (l *LiveResources) Close() { l.hook.Disable() }
