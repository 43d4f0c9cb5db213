// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package asynctrack

import (
	"context"
	"math/rand/v2"
	"reflect"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/otelctx/otelctx/internal/scopehook"
)

// How code without a ctx finds its scope.
//
// The Go runtime copies exactly one thing into every new goroutine: the
// creating goroutine's pprof label set. So a scope is made visible by giving
// it a label set of its own, built with pprof.WithLabels, and installing it on
// the goroutine with pprof.SetGoroutineLabels; every goroutine started from
// there with a plain go statement inherits it. Reading the current
// goroutine's label set back needs runtime/pprof.runtime_getProfLabel (see
// labels_linkname.go), which returns the label set as an opaque pointer.
//
// Nothing a label says is trusted. A scope's label, key "otelctx", carries a
// random 64-bit token, and the package owns the table from tokens to open
// scopes: a label set leads to a scope only if the table has its token, so a
// label a user writes, or copies from a goroutine that has since left its
// scope, leads to nothing. The table holds a scope from when it opens until
// the work running in it ends (see scope.refs), then drops it, so it holds
// nothing that is not running.
//
// The common lookup does not read labels at all: while a scope is open, the
// label set it installed stays reachable from the scope and so keeps its
// address, and a small table indexed by that address leads straight back to
// it. A goroutine whose labels the user changed inside a scope (pprof.Do) has
// a label set of its own; its lookup reads the "otelctx" label through
// pprof's public API and finds the token in the table.

const labelName = scopehook.Label

// scope is a point where what code without a ctx sees changes: a Run, a
// Store.Run, a Resource's Run, a timer callback, a task, or a goroutine whose
// values are not those of the scope it was started in.
type scope struct {
	frame *frame // the context the scope was opened with
	// entered, once Enter changed it, is what the scope shows from then on
	// instead of frame: a context derived from frame.
	entered atomic.Pointer[entered]
	labels  context.Context // the context that holds the scope's label set
	p       unsafe.Pointer  // that label set, as the runtime holds it
	token   uint64          // the value of the scope's label, in hex
	// refs counts what runs in the scope: the callback that opened it and
	// every tracked goroutine, task or timer started in it that shares it.
	// The scope closes when it drops to 0 and never opens again.
	refs atomic.Int64
	// exit holds the label set that Exit installs inside the scope, made
	// when first needed (see scope.exitLabels).
	exit atomic.Pointer[context.Context]
}

var (
	// labelKey is pprof's label context key and labelMapType the type its
	// label sets have, learned once at init through pprof's public API.
	labelKey     any
	labelMapType reflect.Type
	// ambientSupported is set when the build has the linkname and init
	// verified the round trip through pprof. Without it, lookups work from a
	// ctx only.
	ambientSupported bool
)

func init() {
	if !linknameBuild {
		return
	}
	// pprof asks a context for its label set with a private key; a context
	// of ours learns that key when pprof asks it.
	probe := &keyProbe{Context: context.Background()}
	pprof.Label(probe, labelName)
	if probe.key == nil {
		return
	}
	v := pprof.WithLabels(context.Background(), pprof.Labels(labelName, "probe")).Value(probe.key)
	if t := reflect.TypeOf(v); t != nil && t.Kind() == reflect.Pointer {
		labelKey, labelMapType = probe.key, t
		ambientSupported = selfTest()
	}
	if !ambientSupported {
		labelKey, labelMapType = nil, nil
	}
}

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

// selfTest checks on the init goroutine that a scope's label set can be
// installed, read back and resolved, also once pprof merged labels into it,
// and leaves the goroutine as it was.
func selfTest() (ok bool) {
	prev := getProfLabel()
	defer setLabels(prev)
	ambientSupported = true // newScope and lookupScope check nothing else
	defer func() { ambientSupported = false }()
	f := &frame{Context: context.Background()}
	s := newScope(f)
	f.scope = s
	defer s.release()
	if getProfLabel() != s.p || lookupScope(s.p) != s {
		return false
	}
	pprof.SetGoroutineLabels(pprof.WithLabels(f, pprof.Labels("user", "label")))
	return getProfLabel() != s.p && lookupScope(getProfLabel()) == s
}

// newScope opens a scope that resolves to f, with f's pprof labels and the
// scope's own, and installs it on the calling goroutine.
func newScope(f *frame) *scope {
	s := &scope{frame: f, token: rand.Uint64()}
	s.refs.Store(1)
	s.labels = pprof.WithLabels(f, pprof.Labels(labelName, strconv.FormatUint(s.token, 16)))
	scopes.add(s)
	pprof.SetGoroutineLabels(s.labels)
	s.p = getProfLabel()
	byLabels[slotOf(s.p)].Store(s)
	return s
}

// exitLabels returns the context of the label set that Exit installs
// inside s: one label, exitLabelName, with s's token, which no lookup
// follows (lookupScope reads labelName only) and the live view reads.
func (s *scope) exitLabels() context.Context {
	if c := s.exit.Load(); c != nil {
		return *c
	}
	c := pprof.WithLabels(context.Background(), pprof.Labels(scopehook.ExitLabel, strconv.FormatUint(s.token, 16)))
	s.exit.Store(&c)
	return c
}

// entered is a context Enter made a scope show, with the frame it carries.
type entered struct {
	ctx context.Context
	f   *frame
}

// current returns what s shows to code without a ctx and its frame.
func (s *scope) current() (context.Context, *frame) {
	if e := s.entered.Load(); e != nil {
		return e.ctx, e.f
	}
	return s.frame, s.frame
}

// acquire adds one to what runs in s, unless s has closed.
func (s *scope) acquire() bool {
	for {
		n := s.refs.Load()
		if n == 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release ends one of what runs in s, closing it after the last.
func (s *scope) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	byLabels[slotOf(s.p)].CompareAndSwap(s, nil)
	scopes.remove(s)
	closed.add(s)
}

// enter makes f's scope ambient on the calling goroutine for one callback,
// first opening one of f's own if f needs it and has none: f's values are
// not those of a scope it could share. A frame with no scope and nothing to
// show leaves any scope the goroutine inherited. It returns the label set to
// restore and whether it replaced it.
func (f *frame) enter() (prev unsafe.Pointer, swapped bool) {
	if !ambientSupported {
		return nil, false
	}
	cur := getProfLabel()
	switch sc := f.scope; {
	case sc != nil:
		if cur == sc.p || lookupScope(cur) == sc {
			return cur, false
		}
		setLabels(sc.p)
	case f.values != nil || f.ownScope:
		f.scope = newScope(f)
	case cur != nil && lookupScope(cur) != nil:
		setLabels(nil)
	default:
		return cur, false
	}
	return cur, true
}

// leave ends a callback that enter began: it releases f's scope and restores
// the label set prev if enter replaced it.
func (f *frame) leave(prev unsafe.Pointer, swapped bool) {
	if sc := f.scope; sc != nil {
		sc.release()
	}
	if swapped {
		setLabels(prev)
	}
}

// ambientScope returns the open scope the calling goroutine's labels lead
// to, or nil.
func ambientScope() *scope {
	if p := getProfLabel(); p != nil {
		return lookupScope(p)
	}
	return nil
}

// lookupScope returns the open scope label set p leads to, or nil.
func lookupScope(p unsafe.Pointer) *scope {
	if p == nil || !ambientSupported {
		return nil
	}
	// A scope in the slot with p as its label set is p's: p is reachable
	// from the scope, so no other label set can have that address.
	if s := byLabels[slotOf(p)].Load(); s != nil && s.p == p {
		if s.refs.Load() > 0 {
			return s
		}
		return nil
	}
	value, ok := pprof.Label(labelsCtx{p}, labelName)
	if !ok {
		return nil
	}
	token, err := strconv.ParseUint(value, 16, 64)
	if err != nil {
		return nil
	}
	if s := scopes.get(token); s != nil && s.refs.Load() > 0 {
		return s
	}
	return nil
}

// setLabels installs label set p, one that getProfLabel returned or nil
// for none, on the calling goroutine, through pprof's public API.
func setLabels(p unsafe.Pointer) { pprof.SetGoroutineLabels(labelsCtx{p}) }

// labelsCtx presents the label set the runtime holds for a goroutine as the
// context pprof reads labels from. p is a label set pprof made: the runtime
// returns what pprof.SetGoroutineLabels gave it.
type labelsCtx struct{ p unsafe.Pointer }

func (labelsCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (labelsCtx) Done() <-chan struct{}       { return nil }
func (labelsCtx) Err() error                  { return nil }

func (c labelsCtx) Value(key any) any {
	if c.p != nil && isLabelKey(key) {
		return reflect.NewAt(labelMapType.Elem(), c.p).Interface()
	}
	return nil
}

// isLabelKey reports whether key is pprof's label context key.
func isLabelKey(key any) bool { return labelKey != nil && key == labelKey }

// byLabels is the fast way from a label set to its scope: a slot per label
// set address, holding the last scope opened there. A scope that lost its
// slot is found through scopes.
var byLabels [1 << 12]atomic.Pointer[scope]

func slotOf(p unsafe.Pointer) int {
	a := uintptr(p)
	return int((a>>4 ^ a>>16) & (uintptr(len(byLabels)) - 1))
}

// scopes is the table of open scopes by token, sharded so that requests
// opening scopes on every core do not take one lock.
var scopes scopeTable

type scopeTable struct {
	shards [64]struct {
		mu   sync.RWMutex
		open map[uint64]*scope
		_    [32]byte
	}
}

func (t *scopeTable) add(s *scope) {
	sh := &t.shards[s.token%uint64(len(t.shards))]
	sh.mu.Lock()
	if sh.open == nil {
		sh.open = make(map[uint64]*scope)
	}
	sh.open[s.token] = s
	sh.mu.Unlock()
}

func (t *scopeTable) remove(s *scope) {
	sh := &t.shards[s.token%uint64(len(t.shards))]
	sh.mu.Lock()
	if sh.open[s.token] == s {
		delete(sh.open, s.token)
	}
	sh.mu.Unlock()
}

func (t *scopeTable) get(token uint64) *scope {
	sh := &t.shards[token%uint64(len(t.shards))]
	sh.mu.RLock()
	s := sh.open[token]
	sh.mu.RUnlock()
	return s
}

// openScopes returns how many scopes are open, for tests.
func openScopes() int {
	n := 0
	for i := range scopes.shards {
		sh := &scopes.shards[i]
		sh.mu.RLock()
		n += len(sh.open)
		sh.mu.RUnlock()
	}
	return n
}
