// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Registry keeps the set of live resources while it is enabled: what an
// exporter or a debug page reads to answer "what is still running, and what
// started it". It is a Hook underneath, so it costs nothing while disabled.
type Registry struct {
	hook   *Hook
	funcs  RegistryFuncs
	shards [registryShards]registryShard
}

const registryShards = 64

type registryShard struct {
	mu     sync.Mutex
	closed bool // disabled: Init must not record any more
	live   map[uint64]*record
	_      [40]byte // neighbouring IDs are busy on other cores
}

// RegistryFuncs are the callbacks of a registry's owner, such as an
// exporter, that keeps what it tracks per resource in the registry's
// records rather than in a map of its own. All are optional.
type RegistryFuncs struct {
	// Init is called on the creating goroutine once the resource is about
	// to be recorded, with the record (its Triggers and Data unset); what it
	// returns is kept in the record (see Registry.Data).
	Init func(ctx context.Context, r LiveResource) any
	// Context, if set, derives the context the resource's callbacks
	// receive from ctx, as HookFuncs.Context does, with the resource's data.
	Context func(ctx context.Context, id uint64, data any) context.Context
	// Before and After bracket each execution of the resource's callback,
	// with the resource's data.
	Before, After func(id uint64, data any)
	// Destroy is called when the resource is destroyed, after its record is
	// dropped.
	Destroy func(id uint64, created time.Time, data any)
	// Drop is called instead of Destroy for each resource still live when
	// the registry is disabled, and for one whose Init raced with Disable.
	Drop func(id uint64, data any)
}

// record describes one resource. Records are immutable but for self. A
// record keeps of its ancestors only their links, so a leaked goroutine
// still shows the request that started it, and a record keeps no ended
// ancestor's record, nor its data, alive.
type record struct {
	id, trigger uint64
	typ         string
	created     time.Time
	name        string
	chain       *link // the trigger's link, if the registry saw the trigger
	data        any   // what RegistryFuncs.Init returned
	// self is the record's own link, made when the first resource it
	// triggers is recorded.
	self atomic.Pointer[link]
}

// maxTriggers is how many links of a trigger chain the registry keeps and
// shows per resource, nearest first; LiveResource.Depth counts them all.
const maxTriggers = 16

// link is one resource in the trigger chains of what it triggered. Links
// are immutable and shared; a chain holds at most 2×maxTriggers of them.
type link struct {
	id      uint64
	typ     string
	created time.Time
	next    *link // the resource's trigger's link, nil if not kept
	depth   int   // how many links the whole chain from here has
	kept    int   // how many are reachable from here
}

// linkOf returns rec's link, making it if it has none. Once a chain holds
// 2×maxTriggers links, the new link starts a copy of its nearest ones, so
// that a chain that deepens on every firing copies maxTriggers links once
// per maxTriggers firings.
func linkOf(rec *record) *link {
	if l := rec.self.Load(); l != nil {
		return l
	}
	l := &link{id: rec.id, typ: rec.typ, created: rec.created, next: rec.chain, depth: 1, kept: 1}
	if p := rec.chain; p != nil {
		l.depth, l.kept = p.depth+1, p.kept+1
		if l.kept > 2*maxTriggers {
			l.next, l.kept = copyLinks(p, maxTriggers-1), maxTriggers
		}
	}
	if rec.self.CompareAndSwap(nil, l) {
		return l
	}
	return rec.self.Load()
}

// copyLinks copies the first n links of the chain from l, in one allocation.
func copyLinks(l *link, n int) *link {
	c := make([]link, n)
	for i := range c {
		c[i] = link{id: l.id, typ: l.typ, created: l.created, depth: l.depth, kept: n - i}
		if i > 0 {
			c[i-1].next = &c[i]
		}
		l = l.next
	}
	return &c[0]
}

// LiveResource is a snapshot of one live resource.
type LiveResource struct {
	ID        uint64    `json:"id"`
	Type      string    `json:"type"`
	TriggerID uint64    `json:"triggerId"`
	Created   time.Time `json:"created"`
	// Name is the resource's readable name (see ResourceName). The registry
	// keeps no resource value: holding one would keep alive a resource that
	// refers to itself, whose Destroy comes from the garbage collector.
	Name string `json:"name,omitempty"`
	// Data is what RegistryFuncs.Init returned for the resource.
	Data any `json:"-"`
	// Value is the resource value, in what RegistryFuncs.Init receives
	// only; the registry does not keep it (see Name).
	Value any `json:"-"`
	// Triggers is the trigger chain, nearest first, as far back as the
	// registry saw it, its 16 nearest links at most.
	Triggers []Trigger `json:"triggers"`
	// Depth is how many links the whole chain has: more than Triggers
	// when the registry kept only the nearest.
	Depth int `json:"depth"`

	chain *link // Triggers, as Live keeps them
}

// TriggeredBy reports whether resource id is one of r's Triggers, also
// where Live left them out.
func (r LiveResource) TriggeredBy(id uint64) bool {
	for l, n := r.chain, 0; l != nil && n < maxTriggers; l, n = l.next, n+1 {
		if l.id == id {
			return true
		}
	}
	return false
}

// Trigger is one link of a trigger chain.
type Trigger struct {
	ID      uint64    `json:"id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	Live    bool      `json:"live"`
}

// NewRegistry returns a disabled registry. With funcs, its owner keeps data
// of its own in each record; without, it only records.
func NewRegistry(funcs ...RegistryFuncs) *Registry {
	r := &Registry{}
	for _, f := range funcs {
		r.funcs = f
	}
	for i := range r.shards {
		r.shards[i].live = make(map[uint64]*record)
	}
	hf := HookFuncs{Init: r.init, Destroy: r.destroy}
	if r.funcs.Before != nil {
		hf.Before = func(id uint64) { r.event(id, r.funcs.Before) }
	}
	if r.funcs.After != nil {
		hf.After = func(id uint64) { r.event(id, r.funcs.After) }
	}
	if r.funcs.Context != nil {
		hf.Context = func(ctx context.Context, id uint64) context.Context {
			if rec := r.get(id); rec != nil {
				return r.funcs.Context(ctx, id, rec.data)
			}
			return ctx
		}
	}
	r.hook = NewHook(hf)
	return r
}

// Enable starts recording resources created from now on. It returns r.
func (r *Registry) Enable() *Registry {
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		s.closed = false
		s.mu.Unlock()
	}
	r.hook.Enable()
	return r
}

// Enabled reports whether r is recording.
func (r *Registry) Enabled() bool { return r.hook.Enabled() }

// Disable stops recording and forgets every record, calling
// RegistryFuncs.Drop for each. It returns r.
func (r *Registry) Disable() *Registry {
	r.hook.Disable()
	var dropped []*record
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		s.closed = true // an Init already past the hook's check drops its own
		if r.funcs.Drop != nil {
			for _, rec := range s.live {
				dropped = append(dropped, rec)
			}
		}
		clear(s.live)
		s.mu.Unlock()
	}
	for _, rec := range dropped {
		r.funcs.Drop(rec.id, rec.data)
	}
	return r
}

func (r *Registry) shard(id uint64) *registryShard { return &r.shards[id%registryShards] }

func (r *Registry) init(ctx context.Context, id uint64, typ string, trigger uint64, value any) {
	rec := &record{id: id, trigger: trigger, typ: typ, created: time.Now(), name: ResourceName(value)}
	if trigger != 0 {
		if p := r.get(trigger); p != nil {
			rec.chain = linkOf(p)
		}
	}
	if r.funcs.Init != nil {
		rec.data = r.funcs.Init(ctx, LiveResource{ID: id, Type: typ, TriggerID: trigger, Created: rec.created, Name: rec.name, Value: value})
	}
	s := r.shard(id)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		if r.funcs.Drop != nil {
			r.funcs.Drop(id, rec.data)
		}
		return
	}
	s.live[id] = rec
	s.mu.Unlock()
}

func (r *Registry) event(id uint64, fn func(uint64, any)) {
	if rec := r.get(id); rec != nil {
		fn(id, rec.data)
	}
}

func (r *Registry) destroy(id uint64) {
	s := r.shard(id)
	s.mu.Lock()
	rec, ok := s.live[id]
	delete(s.live, id)
	s.mu.Unlock()
	if ok && r.funcs.Destroy != nil {
		r.funcs.Destroy(id, rec.created, rec.data)
	}
}

// Data returns what RegistryFuncs.Init returned for live resource id.
func (r *Registry) Data(id uint64) (any, bool) {
	if rec := r.get(id); rec != nil {
		return rec.data, true
	}
	return nil, false
}

func (r *Registry) get(id uint64) *record {
	s := r.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[id]
}

// Len returns the number of live resources.
func (r *Registry) Len() int {
	n := 0
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		n += len(s.live)
		s.mu.Unlock()
	}
	return n
}

// CountByType returns the number of live resources of each type.
func (r *Registry) CountByType() map[string]int {
	counts := make(map[string]int)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for _, rec := range s.live {
			counts[rec.typ]++
		}
		s.mu.Unlock()
	}
	return counts
}

// Live returns a snapshot of the live resources that match (all if match is
// nil), in creation order, by creation time, then by ID (IDs alone do not
// follow creation order, see frame.ID): at most limit of them (all if limit
// is negative) from the offset-th on, and how many match. match receives
// each live resource without its Triggers; it may ask TriggeredBy. Only the
// resources returned pay for their chains.
func (r *Registry) Live(match func(LiveResource) bool, offset, limit int) (page []LiveResource, total int) {
	var recs []*record
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for _, rec := range s.live {
			recs = append(recs, rec)
		}
		s.mu.Unlock()
	}
	if match != nil {
		recs = slices.DeleteFunc(recs, func(rec *record) bool { return !match(rec.resource()) })
	}
	slices.SortFunc(recs, func(a, b *record) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	total = len(recs)
	recs = recs[min(offset, total):]
	if limit >= 0 && limit < len(recs) {
		recs = recs[:limit]
	}
	page = make([]LiveResource, len(recs))
	for i, rec := range recs {
		page[i] = rec.resource()
		for l := rec.chain; l != nil && len(page[i].Triggers) < maxTriggers; l = l.next {
			page[i].Triggers = append(page[i].Triggers, Trigger{ID: l.id, Type: l.typ, Created: l.created, Live: r.get(l.id) != nil})
		}
	}
	return page, total
}

// resource returns rec as a LiveResource without Triggers.
func (rec *record) resource() LiveResource {
	lr := LiveResource{ID: rec.id, Type: rec.typ, TriggerID: rec.trigger, Created: rec.created, Name: rec.name, Data: rec.data, chain: rec.chain}
	if rec.chain != nil {
		lr.Depth = rec.chain.depth
	}
	return lr
}
