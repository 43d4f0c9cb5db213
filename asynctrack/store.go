// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"unsafe"
)

// binding is one store value in a frame's immutable list of them. Setting a
// value prepends a binding, so a child's change never reaches its parent or
// siblings, and dropping the last frame that holds a list frees it: there is
// nothing to destroy.
type binding struct {
	store unsafe.Pointer // the *Store[T] the value belongs to: compared by identity
	next  *binding
}

// valueBinding is a binding of a *Store[T] with its value. The store
// identifies the binding's type: lookup reads the value in place, with no
// interface to unpack.
type valueBinding[T any] struct {
	binding
	value T
}

// Store holds one typed value per scope of work: the equivalent of Node.js's
// AsyncLocalStorage. The value set by Run is seen by everything the run
// starts through this package, and ambiently by code that holds no ctx.
//
// The zero Store is not usable; make one with NewStore. A Store is safe for
// concurrent use.
type Store[T any] struct {
	_ byte // non-zero size, so that every Store has its own address
}

// NewStore returns a new store. Stores are usually package-level variables.
func NewStore[T any]() *Store[T] { return &Store[T]{} }

// With returns a context derived from ctx in which s holds v. It does not
// make v ambient: code that takes a ctx sees it, and so does work started
// from the returned context; use Run, or pass the result to the package's
// Run, to make it ambient too.
func (s *Store[T]) With(ctx context.Context, v T) context.Context {
	return s.derive(ctx, v)
}

// Run calls fn with a context in which s holds v, and makes v ambient on the
// calling goroutine until fn returns; then the outer value, if any, is seen
// again. It is AsyncLocalStorage.run.
func (s *Store[T]) Run(ctx context.Context, v T, fn func(ctx context.Context)) {
	s.derive(ctx, v).runScoped(fn)
}

// derive returns a frame of ctx's resource in which s holds v.
// The frame and the binding are one allocation. A value of s that v
// replaces at the head of the list is dropped, so that work setting s anew
// each time it re-arms itself does not lengthen the list.
func (s *Store[T]) derive(ctx context.Context, v T) *frame {
	fb := &struct {
		frame frame
		b     valueBinding[T]
	}{}
	f := &fb.frame
	derive(f, ctx)
	next := f.values
	if next != nil && next.store == unsafe.Pointer(s) {
		next = next.next
	}
	fb.b = valueBinding[T]{binding{store: unsafe.Pointer(s), next: next}, v}
	f.values = &fb.b.binding
	return f
}

// Value returns the value s holds in ctx.
func (s *Store[T]) Value(ctx context.Context) (T, bool) {
	if f := frameOf(ctx); f != nil {
		return s.lookup(f.values)
	}
	var zero T
	return zero, false
}

// Current returns the value s holds in the calling goroutine's ambient scope:
// AsyncLocalStorage.getStore, for code that holds no ctx.
func (s *Store[T]) Current() (T, bool) {
	if sc := ambientScope(); sc != nil {
		_, f := sc.current()
		return s.lookup(f.values)
	}
	var zero T
	return zero, false
}

func (s *Store[T]) lookup(b *binding) (T, bool) {
	for ; b != nil; b = b.next {
		if b.store == unsafe.Pointer(s) {
			return (*valueBinding[T])(unsafe.Pointer(b)).value, true
		}
	}
	var zero T
	return zero, false
}
