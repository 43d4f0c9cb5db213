// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package scopetable lets the exporter's live view resolve a goroutine's
// "otelctx" pprof label, as the runtime's goroutine profile reports it, to
// the execution whose scope it names, with no exported API in asynctrack.
// asynctrack sets the functions when it is initialized: a package that
// imports asynctrack finds them set.
package scopetable

// Label is the pprof label key of asynctrack's scopes.
const Label = "otelctx"

// ExitLabel is the pprof label key that asynctrack.Exit installs in place of
// a scope's: its value names the scope the goroutine left, in the same way,
// and no lookup of asynctrack follows it.
const ExitLabel = "otelctx.exit"

// Execution returns the ID of the execution whose scope has label value v,
// and whether that scope is still open. ok is false for a value that names
// no scope asynctrack knows: one it never made, or one that closed while
// nobody watched, or too long ago (see Watch). v is untrusted: it is parsed
// and looked up in a table, nothing more.
var Execution func(v string) (id uint64, open, ok bool)

// Watch makes asynctrack remember the executions of the most recently
// closed scopes (a bounded number) until the returned stop is called, so
// that a goroutine that outlives its scope can be told whose it was. Calls
// nest: asynctrack remembers while any watch is on.
var Watch func() (stop func())
