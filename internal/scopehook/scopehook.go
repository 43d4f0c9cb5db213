// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package scopehook lets the packages of this module reach what asynctrack does
// not export: changing what an open scope shows from then on, and telling
// whether a context carries an asynctrack frame. asynctrack sets the
// functions in its init; they are never nil once asynctrack is linked in,
// which every importer of this package is, through asynctrack.
package scopehook

import "context"

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
)
