// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"path"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/pprof/profile"

	"github.com/otelctx/otelctx/internal/scopehook"
)

// Bounds of what the view shows of goroutines: the goroutine groups of one
// execution, and the frames of one group.
const (
	maxGroups = 16
	maxFrames = 6
)

// goroutines are goroutines that run the same code in the same scope and
// are parked for the same reason: one sample of the goroutine profile.
type goroutines struct {
	Count int `json:"count"`
	// State is why they are parked, as the runtime's own stack dumps name
	// it ("chan receive", "select", "IO wait", "sync.Mutex.Lock", ...),
	// read from the runtime function they are parked in; "runnable" if
	// they are not parked.
	State string `json:"state"`
	// Outlives is set when the scope they run in has closed, or the
	// execution it belonged to has ended: they outlive their request.
	Outlives bool `json:"outlives,omitempty"`
	// Exited is set when they run outside the scope, inside asynctrack.Exit
	// (as an HTTP call through propagator.NewTransport does), or were
	// started there: shown only while the scope is open.
	Exited bool `json:"exited,omitempty"`
	// Frames are the innermost frames of their stack outside the runtime,
	// innermost first.
	Frames []stackFrame `json:"frames"`
}

// stackFrame is one frame of a goroutine's stack.
type stackFrame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int64  `json:"line"`
}

// scopeGoroutines is what one read of the goroutine profile found: the
// goroutines of each execution whose scope they run in; under 0, those
// whose scope label names no scope asynctrack still knows.
type scopeGoroutines struct {
	total  int // goroutines in the process
	byExec map[uint64][]goroutines
	// omitted counts, per execution, the groups past maxGroups.
	omitted map[uint64]int
	err     error
}

// profileReads lets concurrent views share one read of the goroutine
// profile: a page never adds a read to one in flight.
type profileReads struct {
	mu  sync.Mutex
	cur *profileRead // in flight, nil if none
}

type profileRead struct {
	done chan struct{}
	sg   *scopeGoroutines
}

// read returns the goroutines of each execution, from a read of the
// runtime's goroutine profile that started no earlier than the call, or
// that was in flight when it was made.
func (pr *profileReads) read() *scopeGoroutines {
	pr.mu.Lock()
	if r := pr.cur; r != nil {
		pr.mu.Unlock()
		<-r.done
		return r.sg
	}
	r := &profileRead{done: make(chan struct{})}
	pr.cur = r
	pr.mu.Unlock()
	defer func() {
		pr.mu.Lock()
		pr.cur = nil
		pr.mu.Unlock()
		close(r.done)
	}()
	r.sg = readGoroutines()
	return r.sg
}

// readGoroutines reads the runtime's goroutine profile, in its protocol
// buffer form (debug=0): one sample per distinct stack and label set, with
// the labels, which the text forms with states (debug=2) do not carry. It
// costs what the profile costs: the runtime stops the world only to start
// it, then records the goroutines concurrently.
func readGoroutines() *scopeGoroutines {
	sg := &scopeGoroutines{byExec: map[uint64][]goroutines{}, omitted: map[uint64]int{}}
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 0); err != nil {
		sg.err = err
		return sg
	}
	p, err := profile.ParseData(buf.Bytes())
	if err != nil {
		sg.err = err
		return sg
	}
	// Samples differ by their labels more often than by their stacks: the
	// goroutines of many requests run the same code.
	type stack struct {
		state  string
		frames []stackFrame
	}
	stacks := map[string]stack{}
	for _, s := range p.Sample {
		if len(s.Value) == 0 {
			continue
		}
		n := int(s.Value[0])
		sg.total += n
		labels, exited := s.Label[scopehook.Label], false
		if len(labels) == 0 {
			labels, exited = s.Label[scopehook.ExitLabel], true
		}
		if len(labels) != 1 {
			continue
		}
		id, open, ok := scopehook.Execution(labels[0])
		switch {
		case exited && !open:
			continue // a goroutine detached from an ended scope is not its
		case !ok && !exited:
			id = 0 // a scope closed too long ago to tell whose, or a label of no scope
		case id == 0:
			continue
		}
		key := stackKey(s.Location)
		st, seen := stacks[key]
		if !seen {
			st.state, st.frames = parked(s.Location)
			stacks[key] = st
		}
		sg.byExec[id] = append(sg.byExec[id], goroutines{Count: n, State: st.state, Outlives: !open, Exited: exited, Frames: st.frames})
	}
	for id, gs := range sg.byExec {
		slices.SortFunc(gs, func(a, b goroutines) int {
			if c := cmp.Compare(b.Count, a.Count); c != 0 {
				return c
			}
			if c := cmp.Compare(a.State, b.State); c != 0 {
				return c
			}
			return slices.CompareFunc(a.Frames, b.Frames, func(x, y stackFrame) int {
				return cmp.Or(cmp.Compare(x.Function, y.Function), cmp.Compare(x.Line, y.Line))
			})
		})
		if len(gs) > maxGroups {
			sg.omitted[id] = len(gs) - maxGroups
			sg.byExec[id] = gs[:maxGroups:maxGroups]
		}
	}
	return sg
}

// stackKey identifies a stack by its locations.
func stackKey(locs []*profile.Location) string {
	b := make([]byte, 0, 8*len(locs))
	for _, l := range locs {
		b = binary.LittleEndian.AppendUint64(b, l.ID)
	}
	return string(b)
}

// parked returns why a goroutine with the stack locs (innermost first) is
// parked, and its innermost frames outside the runtime.
func parked(locs []*profile.Location) (string, []stackFrame) {
	var all []stackFrame
	for _, l := range locs {
		for _, ln := range l.Line { // inlined calls first
			if ln.Function != nil {
				all = append(all, stackFrame{Function: ln.Function.Name, File: ln.Function.Filename, Line: ln.Line})
			}
		}
	}
	state := stateOf(all)
	i := 0
	for i < len(all) && internalFrame(all[i].Function) {
		i++
	}
	if i == len(all) {
		i = 0 // a goroutine of the runtime's own: show what there is
	}
	frames := all[i:min(len(all), i+maxFrames)]
	return state, slices.Clip(frames)
}

// internalFrame reports whether a function is one of the runtime's, or of
// a package below it, which say how a goroutine parks, not where.
func internalFrame(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/") ||
		strings.HasPrefix(fn, "sync.runtime_") || strings.HasPrefix(fn, "sync/atomic.")
}

// parkReasons name, by the runtime function a goroutine is parked in, the
// reason the runtime's stack dumps give (runtime.waitReason), the more
// precise first.
var parkReasons = []struct{ fn, state string }{
	{"runtime.chanrecv", "chan receive"},
	{"runtime.chansend", "chan send"},
	{"runtime.selectgo", "select"},
	{"runtime.block", "select (no cases)"},
	{"runtime.netpollblock", "IO wait"},
	{"internal/poll.runtime_pollWait", "IO wait"},
	{"internal/sync.runtime_SemacquireMutex", "sync.Mutex.Lock"},
	{"sync.runtime_SemacquireMutex", "sync.Mutex.Lock"},
	{"sync.runtime_SemacquireRWMutexR", "sync.RWMutex.RLock"},
	{"sync.runtime_SemacquireRWMutex", "sync.RWMutex.Lock"},
	{"sync.runtime_SemacquireWaitGroup", "sync.WaitGroup.Wait"},
	{"sync.runtime_notifyListWait", "sync.Cond.Wait"},
	{"time.Sleep", "sleep"},
	{"runtime.semacquire", "semacquire"},
}

// stateOf returns why a goroutine with the stack frames (innermost first)
// is parked: the first of parkReasons among its frames up to the first one
// outside the runtime, "waiting" for another reason; "runnable" if it is
// not parked, "syscall" in a system call.
func stateOf(frames []stackFrame) string {
	if len(frames) == 0 {
		return "unknown"
	}
	switch top := frames[0].Function; {
	case strings.HasPrefix(top, "syscall.") || strings.HasPrefix(top, "internal/runtime/syscall") || top == "runtime.cgocall":
		return "syscall"
	case top != "runtime.gopark" && top != "runtime.goparkunlock":
		return "runnable"
	}
	end := 1
	for end < len(frames) && internalFrame(frames[end].Function) {
		end++
	}
	end = min(end+1, len(frames)) // with the first frame outside: time.Sleep
	for _, r := range parkReasons {
		for _, f := range frames[1:end] {
			if strings.HasPrefix(f.Function, r.fn) {
				return r.state
			}
		}
	}
	return "waiting"
}

// short is a frame as the text and the HTML show it: the function without
// its package path, and the file's base name with the line.
func (f stackFrame) short() (fn, file string) {
	fn = f.Function
	if i := strings.LastIndexByte(fn, '/'); i >= 0 {
		fn = fn[i+1:]
	}
	return fn, path.Base(f.File) + ":" + strconv.FormatInt(f.Line, 10)
}
