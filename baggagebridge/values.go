// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"unicode/utf8"

	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/internal/token"
	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

var (
	// ErrInvalidKey is returned for a key, or a property key, that is not an
	// RFC 7230 token as W3C Baggage requires. Stock OpenTelemetry accepts
	// any UTF-8 key and then leaves the member out of the header.
	ErrInvalidKey = errors.New("baggagebridge: invalid key")
	// ErrInvalidValue is returned for a value, or a property value, that is
	// not valid UTF-8.
	ErrInvalidValue = errors.New("baggagebridge: invalid value")
	// ErrTooLarge is returned by Set when the baggage would exceed the W3C
	// limits. The value is set all the same, in this process only.
	ErrTooLarge = errors.New("baggagebridge: baggage over the W3C limits")
)

// Set makes key hold value, with props as the member's properties, for the
// rest of the work ctx belongs to, replacing any value key held, and returns
// the context to carry on with, also when it returns an error: ctx
// unchanged if nothing was set, else ctx with the value. It is Node.js's
// AsyncLocalStorage.enterWith. The value is a W3C baggage member,
// so the propagators carry it to the next service as the plain value, which
// the propagator percent-encodes.
//
// From the moment Set returns, the value is seen by:
//
//   - the returned context and everything derived from it;
//   - code without a ctx in the scope ctx's work runs in (Current,
//     asynctrack.Ambient, log records without a ctx): on the calling
//     goroutine, in the goroutines running in that scope, plain go
//     statements and errgroup's included, whether started before or after,
//     and in the tracked goroutines that share it;
//   - the scope's own span (under Middleware inside otelhttp, the request's
//     server span, started before the value existed) as WrapSpanProcessor
//     exports it.
//
// It is never seen by another request, by a context taken before Set (a
// context is a snapshot), by work under asynctrack.Exit or started from
// context.Background(), nor by work that already runs in a scope of its own
// (a timer, a task, a goroutine asynctrack.Go gave a scope of its own), which
// keeps what it started with. A ctx that carries no asynctrack frame gets
// the value in the returned context only. To act with another value for one
// call only, use With.
//
// An invalid key, value or property is an error wrapping ErrInvalidKey or
// ErrInvalidValue, and ctx is returned unchanged.
//
// If the member would take the baggage over the W3C limits (64 members, 8192
// bytes as encoded), Set returns an error wrapping ErrTooLarge together with
// a usable context: Get and Current see every value, as always, and the
// baggage holds those that fit. Which ones fit is decided in a fixed order,
// the members already in the baggage first, by key, then the new one; the
// others stay in this process and are never propagated, until they are Set
// again.
func Set(ctx context.Context, key, value string, props ...baggage.Property) (context.Context, error) {
	m, err := newMember(key, value, props)
	if err != nil {
		return ctx, err
	}
	enter(ctx, func(c context.Context) context.Context {
		c, _ = with(c, m)
		return c
	})
	return with(ctx, m)
}

// With returns a copy of ctx in which key holds value, as Set does, without
// changing what the rest of the work sees: code without a ctx, and code
// handed another context of the same request, see what they saw. It is for
// one call made on behalf of someone else (a query for another tenant);
// run code that must see the value ambiently through asynctrack.Run.
func With(ctx context.Context, key, value string, props ...baggage.Property) (context.Context, error) {
	m, err := newMember(key, value, props)
	if err != nil {
		return ctx, err
	}
	return with(ctx, m)
}

// with returns ctx with m in its baggage, or held if the baggage is full.
func with(ctx context.Context, m baggage.Member) (context.Context, error) {
	key := m.Key()
	bag := baggage.FromContext(ctx)
	held, _ := heldStore.Value(ctx)

	size, n := encodedSize(bag, key)
	add := encodedLen(m)
	if n > 0 {
		add++ // the comma before it
	}
	if n < w3cbaggage.MaxMembers && size+add <= w3cbaggage.MaxBytes {
		bag, err := bag.SetMember(m)
		if err != nil { // unreachable: m is valid
			return ctx, err
		}
		ctx = baggage.ContextWithBaggage(ctx, bag)
		if held.has(key) {
			ctx = heldStore.With(ctx, held.without(key))
		}
		return ctx, nil
	}
	return fit(ctx, bag, held, m)
}

// fit rebuilds ctx's baggage with m in it, keeping within the limits in the
// order Set documents, and keeps what does not fit in the held set.
func fit(ctx context.Context, bag baggage.Baggage, held *heldMembers, m baggage.Member) (context.Context, error) {
	members := bag.Members()
	members = slices.DeleteFunc(members, func(o baggage.Member) bool { return o.Key() == m.Key() })
	slices.SortFunc(members, w3cbaggage.ByKey)
	members = append(members, m)

	kept := members[:0:0]
	var out []baggage.Member
	size := 0
	for _, o := range members {
		add := encodedLen(o)
		if len(kept) > 0 {
			add++
		}
		if len(kept) < w3cbaggage.MaxMembers && size+add <= w3cbaggage.MaxBytes {
			kept = append(kept, o)
			size += add
			continue
		}
		out = append(out, o)
	}
	bag, err := baggage.New(kept...)
	if err != nil { // unreachable: kept is valid and within the limits
		return ctx, err
	}
	ctx = baggage.ContextWithBaggage(ctx, bag)
	ctx = heldStore.With(ctx, held.with(out, m.Key()))

	keys := make([]string, len(out))
	for i, o := range out {
		keys[i] = o.Key()
	}
	return ctx, fmt.Errorf("%w: %q kept in this process only", ErrTooLarge, keys)
}

// encodedSize returns the length of bag's W3C header without the member
// for skip, and the number of members counted.
func encodedSize(bag baggage.Baggage, skip string) (size, n int) {
	if bag.Len() == 0 {
		return 0, 0
	}
	for _, m := range bag.Members() {
		if m.Key() == skip {
			continue
		}
		if n > 0 {
			size++
		}
		size += encodedLen(m)
		n++
	}
	return size, n
}

// encodedLen returns len(m.String()), the length of m in a W3C header,
// without building it when m has no properties.
func encodedLen(m baggage.Member) int {
	if len(m.Properties()) > 0 {
		return len(m.String())
	}
	return len(m.Key()) + 1 + w3cbaggage.ValueSize(m.Value())
}

// Get returns the value key holds in ctx (Node.js's getStore, given the
// context; Current is getStore without one): a baggage member, whether set in
// this process or extracted from an inbound request, or a value Set kept in
// this process because the baggage was full.
func Get(ctx context.Context, key string) (string, bool) {
	if m := baggage.FromContext(ctx).Member(key); m.Key() != "" {
		return m.Value(), true
	}
	return getHeld(ctx, key)
}

// getHeld is Get for a value Set kept out of a full baggage. It is apart
// so that Get, called anywhere, takes little stack: a goroutine that only
// reads a value then fits in the stack it starts with.
//
//go:noinline
func getHeld(ctx context.Context, key string) (string, bool) {
	if held, ok := heldStore.Value(ctx); ok {
		if m, ok := held.get(key); ok {
			return m.Value(), true
		}
	}
	return "", false
}

// Current is Get on asynctrack.Ambient(): the value key holds in the scope
// the calling goroutine runs in, for code that holds no ctx.
func Current(key string) (string, bool) {
	return Get(asynctrack.Ambient(), key)
}

// Delete makes key hold no value for the rest of the work ctx belongs to,
// as Set makes it hold one, and returns a copy of ctx without it (ctx itself
// if key holds none there).
func Delete(ctx context.Context, key string) context.Context {
	enter(ctx, func(c context.Context) context.Context { return without(c, key) })
	return without(ctx, key)
}

func without(ctx context.Context, key string) context.Context {
	if bag := baggage.FromContext(ctx); bag.Member(key).Key() != "" {
		ctx = baggage.ContextWithBaggage(ctx, bag.DeleteMember(key))
	}
	if held, _ := heldStore.Value(ctx); held.has(key) {
		ctx = heldStore.With(ctx, held.without(key))
	}
	return ctx
}

// newMember validates key, value and props as W3C Baggage requires and
// returns the member they make.
func newMember(key, value string, props []baggage.Property) (baggage.Member, error) {
	if !token.Valid(key) {
		return baggage.Member{}, fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	if !utf8.ValidString(value) {
		return baggage.Member{}, fmt.Errorf("%w: %q", ErrInvalidValue, value)
	}
	for _, p := range props {
		if !token.Valid(p.Key()) {
			return baggage.Member{}, fmt.Errorf("%w: property %q of %q", ErrInvalidKey, p.Key(), key)
		}
		if v, _ := p.Value(); !utf8.ValidString(v) {
			return baggage.Member{}, fmt.Errorf("%w: property %q of %q: %q", ErrInvalidValue, p.Key(), key, v)
		}
	}
	return baggage.NewMemberRaw(key, value, props...)
}

// heldStore holds, per scope of work, the members Set kept out of the
// baggage because it was full: values of the context like the others, but
// never propagated. A member is in the baggage or here, never in both,
// except when the baggage is changed behind this package's back; then the
// baggage wins.
var heldStore = asynctrack.NewStore[*heldMembers]()

// heldMembers is an immutable list of members sorted by key. A nil
// *heldMembers is the empty list.
type heldMembers struct{ members []baggage.Member }

func (h *heldMembers) get(key string) (baggage.Member, bool) {
	if h == nil {
		return baggage.Member{}, false
	}
	i, ok := slices.BinarySearchFunc(h.members, key, func(m baggage.Member, k string) int { return cmp.Compare(m.Key(), k) })
	if !ok {
		return baggage.Member{}, false
	}
	return h.members[i], true
}

func (h *heldMembers) has(key string) bool {
	_, ok := h.get(key)
	return ok
}

// without returns h without key; nil if that leaves it empty.
func (h *heldMembers) without(key string) *heldMembers {
	ms := slices.DeleteFunc(slices.Clone(h.members), func(m baggage.Member) bool { return m.Key() == key })
	if len(ms) == 0 {
		return nil
	}
	return &heldMembers{members: ms}
}

// with returns h with add, which replace any member of the same key, and
// without drop, unless add holds it.
func (h *heldMembers) with(add []baggage.Member, drop string) *heldMembers {
	var ms []baggage.Member
	if h != nil {
		ms = slices.Clone(h.members)
	}
	ms = slices.DeleteFunc(ms, func(m baggage.Member) bool {
		return m.Key() == drop || slices.ContainsFunc(add, func(a baggage.Member) bool { return a.Key() == m.Key() })
	})
	ms = append(ms, add...)
	slices.SortFunc(ms, w3cbaggage.ByKey)
	if len(ms) == 0 {
		return nil
	}
	return &heldMembers{members: ms}
}
