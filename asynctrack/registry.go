package asynctrack

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// Registry keeps the set of live resources while it is enabled: what an
// exporter or a debug page reads to answer "what is still running, and what
// started it". It is a Hook underneath, so it costs nothing while disabled.
type Registry struct {
	hook   *Hook
	shards [registryShards]registryShard
}

const registryShards = 64

type registryShard struct {
	mu   sync.Mutex
	live map[uint64]*record
}

// record describes one resource. Records are immutable; a live record keeps
// its trigger's record reachable after the trigger is destroyed, so a leaked
// goroutine still shows the request that started it.
type record struct {
	id, trigger uint64
	typ         string
	created     time.Time
	name        string
	parent      *record // the trigger's record, if the registry saw it
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
	// Triggers is the trigger chain, nearest first, as far back as the
	// registry saw it.
	Triggers []Trigger `json:"triggers"`
}

// Trigger is one link of a trigger chain.
type Trigger struct {
	ID      uint64    `json:"id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	Live    bool      `json:"live"`
}

// NewRegistry returns a disabled registry.
func NewRegistry() *Registry {
	r := &Registry{}
	for i := range r.shards {
		r.shards[i].live = make(map[uint64]*record)
	}
	r.hook = NewHook(HookFuncs{Init: r.init, Destroy: r.destroy})
	return r
}

// Enable starts recording resources created from now on. It returns r.
func (r *Registry) Enable() *Registry {
	r.hook.Enable()
	return r
}

// Disable stops recording and forgets every record. It returns r.
func (r *Registry) Disable() *Registry {
	r.hook.Disable()
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		clear(s.live)
		s.mu.Unlock()
	}
	return r
}

func (r *Registry) shard(id uint64) *registryShard { return &r.shards[id%registryShards] }

func (r *Registry) init(_ context.Context, id uint64, typ string, trigger uint64, value any) {
	rec := &record{id: id, trigger: trigger, typ: typ, created: time.Now(), name: ResourceName(value)}
	if trigger != 0 {
		rec.parent = r.get(trigger)
	}
	s := r.shard(id)
	s.mu.Lock()
	s.live[id] = rec
	s.mu.Unlock()
}

func (r *Registry) destroy(id uint64) {
	s := r.shard(id)
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
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

// Live returns a snapshot of the live resources in creation order: by
// creation time, then by ID. IDs alone do not follow creation order (see
// frame.ID and newID).
func (r *Registry) Live() []LiveResource {
	var recs []*record
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		for _, rec := range s.live {
			recs = append(recs, rec)
		}
		s.mu.Unlock()
	}
	slices.SortFunc(recs, func(a, b *record) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]LiveResource, len(recs))
	for i, rec := range recs {
		out[i] = LiveResource{ID: rec.id, Type: rec.typ, TriggerID: rec.trigger, Created: rec.created, Name: rec.name}
		for p := rec.parent; p != nil; p = p.parent {
			out[i].Triggers = append(out[i].Triggers, Trigger{ID: p.id, Type: p.typ, Created: p.created, Live: r.get(p.id) == p})
		}
	}
	return out
}
