// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package scopehook lets the packages of this module reach what asynctrack does
// not export: changing what an open scope shows from then on, telling
// whether a context carries an asynctrack frame, and resolving a goroutine's
// scope label, as the runtime's goroutine profile reports it, to the
// execution whose scope it names (for the exporter's live view). asynctrack
// sets the functions in its init; they are never nil once asynctrack is
// linked in, which every importer of this package is, through asynctrack.
package scopehook

import (
	"context"
	"unsafe"
)

var (
	// Enter changes what the open scope ctx's execution runs in shows,
	// from now on, to code without a ctx: it sets it to update(base, cur),
	// where base is the scope's context as it was opened and cur what it
	// shows now. update may run more than once (concurrent Enters retry)
	// and must return a context derived from base. Enter reports false, and
	// changes nothing, if ctx carries no frame, or its scope has closed.
	Enter func(ctx context.Context, update func(base, cur context.Context) context.Context) bool

	// HasFrame reports whether ctx carries an asynctrack frame: it was
	// derived from a context that asynctrack handed out.
	HasFrame func(ctx context.Context) bool

	// Execution returns the ID of the execution whose scope has label value
	// v (of Label or ExitLabel), and whether that scope is still open. ok
	// is false for a value that names no scope asynctrack knows: one it
	// never made, or one that closed while nobody watched, or too long ago
	// (see Watch). v is untrusted: it is parsed and looked up in a table,
	// nothing more.
	Execution func(v string) (id uint64, open, ok bool)

	// Watch makes asynctrack remember the executions of the most recently
	// closed scopes (a bounded number) until the returned stop is called, so
	// that a goroutine that outlives its scope can be told whose it was.
	// Calls nest: asynctrack remembers while any watch is on.
	Watch func() (stop func())

	// Leave takes the calling goroutine out of every scope, as
	// asynctrack.Exit does for its callback, without a callback and without
	// allocating: the goroutine must call Back with what Leave returned on
	// every path (defer it) before it returns to its caller.
	Leave func() Saved
	// Back puts the calling goroutine back where Leave took it from.
	Back func(Saved)
)

// Saved is the scope Leave took a goroutine out of: the label set to
// restore, if Swapped.
type Saved struct {
	Labels  unsafe.Pointer
	Swapped bool
}

// Label is the pprof label key of asynctrack's scopes.
const Label = "otelctx"

// ExitLabel is the pprof label key that asynctrack.Exit installs in place of
// a scope's: its value names the scope the goroutine left, in the same way,
// and no lookup of asynctrack follows it.
const ExitLabel = "otelctx.exit"
