// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package envcheck reports OTELCTX_* variables that no propagator reads.
//
// A propagator selected by name through contrib's autoprop (OTEL_PROPAGATORS)
// or a configuration file is built by code otelctx does not see: when the
// name is missing or misspelled, the stock propagators run instead, accept
// every inbound baggage member and send every member wherever NewTransport
// does not write the baggage (which then sends none), and the
// otelctx propagator that would read the OTELCTX_* variables is never built.
// The only otelctx code such a service still runs is its middleware and
// transports, so they call Served once a request's propagation is done
// (inbound: extracted; outbound: injected), and the first call checks.
package envcheck

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
)

// Prefix starts the name of every variable otelctx reads.
const Prefix = "OTELCTX_"

// Name is the OTEL_PROPAGATORS name of the otelctx propagator.
const Name = "otelctx"

var (
	read    atomic.Bool
	built   atomic.Bool
	checked sync.Once
	environ = os.Environ // tests replace it
)

// MarkRead records that a propagator read the OTELCTX_* variables.
func MarkRead() { read.Store(true) }

// MarkBuilt records that an otelctx propagator was built, with or without
// the variables.
func MarkBuilt() { built.Store(true) }

// Served is called once a request's propagation is done. The first call in
// the process reports, through otel.Handle, the OTELCTX_* variables that are
// set when no propagator has read them; later calls cost an atomic load.
func Served() {
	checked.Do(func() {
		if err := Unread(environ(), read.Load(), built.Load()); err != nil {
			otel.Handle(err)
		}
	})
}

// Reset forgets the first call to Served and every MarkRead, and makes
// Served read env instead of os.Environ when env is not nil. For tests.
func Reset(env func() []string) {
	checked = sync.Once{}
	read.Store(false)
	built.Store(false)
	environ = os.Environ
	if env != nil {
		environ = env
	}
}

// Unread returns the error Served reports for the environment env (as
// os.Environ returns it), or nil: the OTELCTX_* variables are set and,
// unless wasRead, no propagator read them; wasBuilt says an otelctx
// propagator was built all the same, in code without the variables.
func Unread(env []string, wasRead, wasBuilt bool) error {
	if wasRead {
		return nil
	}
	var names []string
	propagators, selected := "", false
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		switch {
		case name == "OTEL_PROPAGATORS":
			propagators, selected = value, true
		case len(name) >= len(Prefix) && strings.EqualFold(name[:len(Prefix)], Prefix):
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	if wasBuilt {
		return fmt.Errorf("propagator: %s %s set, but no otelctx propagator reads %s, so none of that policy applies: "+
			"the otelctx propagator was built in code without propagator.WithEnv(), which alone reads the OTELCTX_ "+
			"variables. Add it to the options, propagator.New(propagator.WithEnv(), opts...), or select the "+
			"propagator with OTEL_PROPAGATORS=otelctx and github.com/otelctx/otelctx/propagator/autoprop imported",
			strings.Join(names, ", "), isAre(len(names)), itThem(len(names)))
	}
	return fmt.Errorf("propagator: %s %s set, but no otelctx propagator reads %s, so none of that policy applies "+
		"(the stock baggage propagator accepts every inbound member and sends every member to every host): %s. "+
		"Set OTEL_PROPAGATORS=otelctx (or name otelctx in the configuration file's propagator) with "+
		"github.com/otelctx/otelctx/propagator/autoprop imported, or build the propagator with "+
		"propagator.New(propagator.WithEnv())",
		strings.Join(names, ", "), isAre(len(names)), itThem(len(names)), selection(propagators, selected))
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// selection says what OTEL_PROPAGATORS selects, as contrib's autoprop reads
// it: names are split at commas and matched exactly, with case and spaces,
// and an unset or empty value, or one naming no registered propagator,
// means tracecontext,baggage.
func selection(v string, set bool) string {
	switch {
	case !set:
		return "OTEL_PROPAGATORS is unset, which autoprop reads as tracecontext,baggage"
	case v == "":
		return "OTEL_PROPAGATORS is empty, which autoprop reads as tracecontext,baggage"
	}
	for p := range strings.SplitSeq(v, ",") {
		if p == Name {
			return fmt.Sprintf("OTEL_PROPAGATORS=%q names %s, but the propagator in use is not the one it selects: "+
				"import github.com/otelctx/otelctx/propagator/autoprop and make autoprop.NewTextMapPropagator() "+
				"the global propagator", v, Name)
		}
		if strings.EqualFold(strings.TrimSpace(p), Name) {
			return fmt.Sprintf("OTEL_PROPAGATORS=%q names %q, which autoprop does not match to %q (it neither trims "+
				"spaces nor folds case; without a known name it falls back to tracecontext,baggage): write %s",
				v, p, Name, Name)
		}
	}
	return fmt.Sprintf("OTEL_PROPAGATORS=%q does not name %s", v, Name)
}
