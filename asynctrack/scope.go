package asynctrack

import (
	"context"
	"reflect"
	"runtime/pprof"
	"time"
	"unsafe"
)

// How code without a ctx finds its scope.
//
// The Go runtime copies exactly one thing into every new goroutine: the
// creating goroutine's pprof label set. So a scope is made visible by giving
// it a label set of its own and installing that set on the goroutine (public
// API: pprof.SetGoroutineLabels); every goroutine started from there with a
// plain go statement inherits it. Reading the current goroutine's label set
// back needs runtime/pprof.runtime_getProfLabel (see labels_linkname.go).
//
// The label set must then lead back to the scope without a global map: a map
// would need an entry per label set and a GC cleanup to drop it, and both
// cost more than starting the goroutine. Instead the scope's label, key
// "otelctx", is made of strings whose bytes live inside the scope itself
// (scope.tag). The label set therefore keeps the scope alive exactly as long
// as some goroutine or context holds it, and the GC frees both together. To
// resolve a label set we read its labels, directly where init verified
// pprof's layout and through the public pprof.ForLabels otherwise, and
// recognise ours by where its strings point: the key's bytes must start a
// scope and the value's bytes must follow them. A label that merely reads
// "otelctx" never passes that.
//
// Label values are the resource type ("http.request", "goroutine", ...), so
// CPU and goroutine profiles can be grouped by them at no cardinality cost.

const (
	labelName   = "otelctx"
	scopeTagLen = 32 // "otelctx" and up to 25 bytes of the resource type
)

// scope is a point where what code without a ctx should see changes: a user
// resource, a Store.Run, a task or a timer. It is immutable once published.
type scope struct {
	tag    [scopeTagLen]byte // must stay the first field: see scopeOf
	typLen uint8             // how much of tag after labelName is the type
	frame  *frame            // what the scope resolves to
	values *binding          // frame's store values, kept here for Current
	labels unsafe.Pointer    // the pprof label set that leads here
	set    labelSet          // the label set itself, when built in place
	own    [1]pprofLabel     // set's storage when there are no user labels
}

// labelSet and pprofLabel mirror pprof's label set (runtime/pprof.labelMap:
// struct{ label.Set } with label.Set: struct{ List []label.Label }). Building
// it in place saves the three allocations of pprof.WithLabels on every scope.
// init verifies the layout field by field with reflection and uses
// pprof.WithLabels instead if it differs, so a Go release that changes it
// costs speed, not correctness. Lookups read the layout too, only when it
// matched.
type labelSet struct{ list []pprofLabel }

type pprofLabel struct{ key, value string }

var (
	// labelKey and labelMapType are pprof's label context key and the type
	// of its label sets, learned once at init through pprof's public API.
	labelKey     any
	labelKeyType unsafe.Pointer // labelKey's type: comparing it is cheaper than comparing labelKey
	labelMapType unsafe.Pointer
	// ambientSupported is set when the build has the linkname and the
	// round trip through pprof was verified at init. Without it, lookups
	// work from a ctx only.
	ambientSupported bool
	// inPlace is set when pprof's label set layout matches labelSet.
	inPlace bool
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
	if v == nil {
		return
	}
	labelKey, labelMapType = probe.key, (*eface)(unsafe.Pointer(&v)).typ
	labelKeyType = (*eface)(unsafe.Pointer(&labelKey)).typ
	inPlace = layoutMatches(reflect.TypeOf(v))
	if inPlace && !selfTest() {
		inPlace = false
	}
	ambientSupported = selfTest()
	if !ambientSupported {
		labelKey, labelKeyType, labelMapType = nil, nil, nil
	}
}

// layoutMatches reports whether t, pprof's *labelMap, has labelSet's layout.
func layoutMatches(t reflect.Type) bool {
	isStruct := func(t reflect.Type, fields int) bool {
		return t.Kind() == reflect.Struct && t.NumField() == fields
	}
	if t.Kind() != reflect.Pointer || !isStruct(t.Elem(), 1) {
		return false
	}
	set := t.Elem().Field(0).Type
	if !isStruct(set, 1) || set.Size() != unsafe.Sizeof(labelSet{}) {
		return false
	}
	list := set.Field(0).Type
	if list.Kind() != reflect.Slice || !isStruct(list.Elem(), 2) {
		return false
	}
	l := list.Elem()
	return l.Size() == unsafe.Sizeof(pprofLabel{}) &&
		l.Field(0).Type.Kind() == reflect.String && l.Field(0).Offset == unsafe.Offsetof(pprofLabel{}.key) &&
		l.Field(1).Type.Kind() == reflect.String && l.Field(1).Offset == unsafe.Offsetof(pprofLabel{}.value)
}

// selfTest checks on the init goroutine that a scope's label set can be
// installed, read back, resolved and merged by pprof, and leaves the
// goroutine as it was.
func selfTest() bool {
	user := pprof.WithLabels(context.Background(), pprof.Labels("a", "1", "z", "2"))
	var base unsafe.Pointer
	if v := user.Value(labelKey); v != nil {
		base = (*eface)(unsafe.Pointer(&v)).data
	}
	f := &frame{Context: context.Background()}
	f.w = unsafe.Pointer(&env{owner: f}) // of no resource
	s := &scope{}
	s.init(f, nil, "", base)
	var got []string
	pprof.ForLabels(labelsCtx{s.labels}, func(k, v string) bool {
		got = append(got, k+"="+v)
		return true
	})
	merged := pprof.WithLabels(labelsCtx{s.labels}, pprof.Labels("b", "3"))
	prev := getProfLabel()
	setLabels(s.labels)
	ok := getProfLabel() == s.labels && lookupScope(s.labels) == s &&
		reflect.DeepEqual(got, []string{"a=1", "otelctx=scope", "z=2"})
	if v := merged.Value(labelKey); v == nil || lookupScope((*eface)(unsafe.Pointer(&v)).data) != s {
		ok = false
	}
	setLabels(prev)
	return ok && getProfLabel() == prev
}

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	p.key = key
	return nil
}

// init makes s a scope that resolves to f, whose store values are values,
// with a label set made of base's labels (the ones to keep, such as the
// user's own) and the scope's label. Callers check ambientSupported first.
func (s *scope) init(f *frame, values *binding, typ string, base unsafe.Pointer) {
	s.frame, s.values = f, values
	if typ == "" {
		typ = "scope"
	}
	n := copy(s.tag[:], labelName)
	m := copy(s.tag[n:], typ)
	s.typLen = uint8(m)
	label := pprofLabel{key: unsafe.String(&s.tag[0], n), value: unsafe.String(&s.tag[n], m)}
	if !inPlace {
		ctx := pprof.WithLabels(labelsCtx{base}, pprof.Labels(label.key, label.value))
		v := ctx.Value(labelKey)
		s.labels = (*eface)(unsafe.Pointer(&v)).data
		return
	}
	others := 0
	if base != nil {
		pprof.ForLabels(labelsCtx{base}, func(k, _ string) bool {
			if k != labelName {
				others++
			}
			return true
		})
	}
	if others == 0 {
		s.own[0] = label
		s.set.list = s.own[:]
	} else {
		// Keep pprof's invariant: sorted by key, one label per key.
		s.set.list = make([]pprofLabel, 0, others+1)
		pprof.ForLabels(labelsCtx{base}, func(k, v string) bool {
			if k == labelName {
				return true
			}
			if label.key != "" && k > labelName {
				s.set.list = append(s.set.list, label)
				label.key = ""
			}
			s.set.list = append(s.set.list, pprofLabel{k, v})
			return true
		})
		if label.key != "" {
			s.set.list = append(s.set.list, label)
		}
	}
	s.labels = unsafe.Pointer(&s.set)
}

// typ returns the resource type the scope was opened for, as its label
// shows it, or "" for a nil scope.
func (s *scope) typ() string {
	if s == nil {
		return ""
	}
	return unsafe.String(&s.tag[len(labelName)], s.typLen)
}

// enter makes s ambient on the calling goroutine. It returns the label set to
// restore and whether it replaced it. A goroutine whose labels already lead
// to s keeps them, with whatever pprof labels the user added on top.
func (s *scope) enter() (prev unsafe.Pointer, swapped bool) {
	if s == nil {
		return nil, false
	}
	cur := getProfLabel()
	if cur == s.labels || lookupScope(cur) == s {
		return cur, false
	}
	setLabels(s.labels)
	return cur, true
}

// baseLabels returns the label set a new scope under parent starts from: the
// goroutine's current one when it belongs to parent, since it may carry the
// user's pprof labels on top of parent's, and parent's otherwise.
func baseLabels(parent *scope) unsafe.Pointer {
	if cur := getProfLabel(); cur != nil && (parent != nil && cur == parent.labels || lookupScope(cur) == parent) {
		return cur
	}
	if parent == nil {
		return nil
	}
	return parent.labels
}

// ambientScope returns the scope the calling goroutine's labels lead to.
func ambientScope() *scope {
	if p := getProfLabel(); p != nil {
		return lookupScope(p)
	}
	return nil
}

// lookupScope returns the scope label set p leads to, or nil. It does not
// allocate: labelsCtx is pointer-shaped and the closure does not escape.
func lookupScope(p unsafe.Pointer) (s *scope) {
	if p == nil || labelKey == nil {
		return nil
	}
	if inPlace {
		// The layout is pprof's (see layoutMatches): read the labels as
		// ForLabels would, without its interface calls, which are most of
		// what an ambient lookup costs.
		for _, l := range (*labelSet)(p).list {
			if l.key == labelName {
				return scopeOf(l.key, l.value)
			}
		}
		return nil
	}
	pprof.ForLabels(labelsCtx{p}, func(key, value string) bool {
		if key != labelName {
			return true
		}
		s = scopeOf(key, value)
		return false
	})
	return s
}

// scopeOf returns the scope whose label has key and value, or nil if they
// are not a scope's: ours only if the value's bytes follow the key's inside
// one scope, compared as integers, so nothing is dereferenced before it
// passes.
func scopeOf(key, value string) *scope {
	k, v := unsafe.StringData(key), unsafe.StringData(value)
	if uintptr(unsafe.Pointer(v))-uintptr(unsafe.Pointer(k)) != uintptr(len(labelName)) {
		return nil
	}
	return (*scope)(unsafe.Pointer(k))
}

// setLabels installs label set p on the calling goroutine.
func setLabels(p unsafe.Pointer) { pprof.SetGoroutineLabels(labelsCtx{p}) }

// labelsCtx presents a raw label set as the context pprof reads labels from.
// It holds one pointer, so converting it to context.Context does not allocate.
type labelsCtx struct{ p unsafe.Pointer }

func (labelsCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (labelsCtx) Done() <-chan struct{}       { return nil }
func (labelsCtx) Err() error                  { return nil }

func (c labelsCtx) Value(key any) any {
	if isLabelKey(key) && c.p != nil {
		return labelMapValue(c.p)
	}
	return nil
}

// isLabelKey reports whether key is pprof's label context key. The key type
// has a single value, so comparing types is comparing keys.
func isLabelKey(key any) bool {
	return labelKeyType != nil && (*eface)(unsafe.Pointer(&key)).typ == labelKeyType
}

// eface is the layout of an empty interface value.
type eface struct{ typ, data unsafe.Pointer }

// iface is the layout of an interface with methods.
type iface struct{ tab, data unsafe.Pointer }

// labelMapValue returns label set p as pprof stores it in a context.
func labelMapValue(p unsafe.Pointer) any {
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = labelMapType, p
	return v
}
