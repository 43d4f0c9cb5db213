package baggagebridge

import "github.com/otelctx/otelctx/asynctrack"

// Local holds a typed value of any kind per scope of work — a user record, a
// database handle, a decoded token — that never leaves the process: it is
// not baggage, so no propagator, span processor or log handler of this
// package sees it. Read it with Value from a ctx or with Current from code
// that holds none.
//
// Local is asynctrack.Store under the name a reader of this package looks
// for; it has no mechanism of its own.
type Local[T any] = asynctrack.Store[T]

// NewLocal returns a new Local. Locals are usually package-level variables.
func NewLocal[T any]() *Local[T] { return asynctrack.NewStore[T]() }
