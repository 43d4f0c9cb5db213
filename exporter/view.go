// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/otel/trace"

	"github.com/otelctx/otelctx/asynctrack"
)

// viewHandler serves the live-resource view of an Exporter.
type viewHandler struct{ e *Exporter }

var _ http.Handler = viewHandler{}

// query is a parsed request to the view. Zero fields match everything.
type query struct {
	traceID       trace.TraceID
	id            uint64
	format        string // "json", "text" or "html"
	offset, limit int
}

// Page sizes of the view: an answer lists at most limit resources (the
// query parameter limit, DefaultViewLimit if not given, at most
// MaxViewLimit), from the offset-th on, oldest first.
const (
	DefaultViewLimit = 1000
	MaxViewLimit     = 10_000
)

// Query errors. They never quote the input: it is the caller's, and a page
// that echoes it invites trouble.
var (
	errRepeated = errors.New("trace_id, id, format, limit and offset may each be given once")
	errTraceID  = errors.New("invalid trace_id: want 32 hex digits, not all zero")
	errID       = errors.New("invalid id: want a positive decimal execution ID")
	errBoth     = errors.New("give trace_id or id, not both")
	errFormat   = errors.New(`invalid format: want "json", "text" or "html"`)
	errLimit    = fmt.Errorf("invalid limit: want 1 to %d", MaxViewLimit)
	errOffset   = errors.New("invalid offset: want 0 or more")
)

func parseQuery(r *http.Request) (query, error) {
	var q query
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return q, errors.New("malformed query string")
	}
	for _, key := range []string{"trace_id", "id", "format", "limit", "offset"} {
		if len(vals[key]) > 1 {
			return q, errRepeated
		}
	}
	if v, ok := vals["trace_id"]; ok {
		// Lowercase first: trace IDs are often copied from tools that print
		// them in upper case.
		if q.traceID, err = trace.TraceIDFromHex(strings.ToLower(v[0])); err != nil {
			return q, errTraceID
		}
	}
	if v, ok := vals["id"]; ok {
		if q.id, err = strconv.ParseUint(v[0], 10, 64); err != nil || q.id == 0 {
			return q, errID
		}
	}
	if q.traceID.IsValid() && q.id != 0 {
		return q, errBoth
	}
	q.limit = DefaultViewLimit
	if v, ok := vals["limit"]; ok {
		if q.limit, err = strconv.Atoi(v[0]); err != nil || q.limit < 1 || q.limit > MaxViewLimit {
			return q, errLimit
		}
	}
	if v, ok := vals["offset"]; ok {
		if q.offset, err = strconv.Atoi(v[0]); err != nil || q.offset < 0 {
			return q, errOffset
		}
	}
	switch v, ok := vals["format"]; {
	case !ok:
		q.format = preferredFormat(r.Header.Get("Accept"))
	case v[0] == "json", v[0] == "text", v[0] == "html":
		q.format = v[0]
	default:
		return q, errFormat
	}
	return q, nil
}

// formats are the view's formats by media type.
var formats = map[string]string{"application/json": "json", "text/plain": "text", "text/html": "html"}

// preferredFormat returns the format an Accept header prefers: the media
// type of the view's with the highest quality, the first named on a tie;
// JSON if it names none.
func preferredFormat(accept string) string {
	best, bestQ := "json", -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mt, params, _ := strings.Cut(part, ";")
		f, ok := formats[strings.ToLower(strings.TrimSpace(mt))]
		if !ok {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if x, err := strconv.ParseFloat(v, 64); err == nil && x >= 0 && x <= 1 {
					q = x
				}
			}
		}
		if q > bestQ && q > 0 {
			best, bestQ = f, q
		}
	}
	return best
}

func (h viewHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q, err := parseQuery(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if h.e.isShutdown.Load() {
		http.Error(w, "the exporter is shut down", http.StatusServiceUnavailable)
		return
	}
	v := h.e.view(q, time.Now())
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch q.format {
	case "text":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(v.text())
		return
	case "html":
		// Self-contained: the page loads nothing, and runs only its own
		// script, which fetches this URL again to refresh.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy",
			"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		_ = v.html(w, h.e.jaegerURL)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // a write error means the client is gone
}

// view is the answer to a query, as served in JSON.
type view struct {
	TraceID string    `json:"traceId,omitempty"`
	ID      uint64    `json:"id,omitempty"`
	Time    time.Time `json:"time"`
	// Total is how many live resources match the query; Resources lists
	// at most Limit of them, from the Offset-th on.
	Total     int        `json:"total"`
	Offset    int        `json:"offset"`
	Limit     int        `json:"limit"`
	Resources []resource `json:"resources"`
	// Goroutines is how many goroutines the process runs, GoroutineError
	// why they could not be read.
	Goroutines     int    `json:"goroutines"`
	GoroutineError string `json:"goroutineError,omitempty"`
	// Outliving are the ended executions whose scopes goroutines still run
	// in, on the first page only.
	Outliving []outliving `json:"outliving"`
}

// resource is one live resource in a view.
type resource struct {
	ID        uint64    `json:"id"`
	Type      string    `json:"type"`
	TriggerID uint64    `json:"triggerId"`
	Name      string    `json:"name,omitempty"`
	TraceID   string    `json:"traceId,omitempty"`
	SpanID    string    `json:"spanId,omitempty"`
	Created   time.Time `json:"created"`
	Age       float64   `json:"ageSeconds"`
	Triggers  []link    `json:"triggers"`
	// Depth is the length of the whole trigger chain, of which Triggers
	// holds the nearest links (at most 16, see asynctrack.LiveResource).
	Depth int `json:"depth"`
	// Request describes a request's resource; nil for another resource.
	Request *requestInfo `json:"request,omitempty"`
	// Goroutines are the goroutines that run in the resource's scope, and
	// GoroutinesOmitted the groups of them past the bound.
	Goroutines        []goroutines `json:"goroutines,omitempty"`
	GoroutinesOmitted int          `json:"goroutinesOmitted,omitempty"`
}

// link is one step of a trigger chain, nearest first.
type link struct {
	ID      uint64    `json:"id"`
	Type    string    `json:"type"`
	Created time.Time `json:"created"`
	Age     float64   `json:"ageSeconds"`
	Live    bool      `json:"live"`
}

// view answers q from the registry's live resources and trigger chains, the
// trace each resource was created in, and a read of the goroutine profile.
// Only the resources of the page are converted: the work of a query beyond
// its page is one match per live resource, and the profile's read.
func (e *Exporter) view(q query, now time.Time) view {
	v := view{ID: q.id, Time: now, Offset: q.offset, Limit: q.limit, Resources: []resource{}, Outliving: []outliving{}}
	if q.traceID.IsValid() {
		v.TraceID = q.traceID.String()
	}
	sg := e.reads.read()
	v.Goroutines = sg.total
	if sg.err != nil {
		v.GoroutineError = sg.err.Error()
	}
	var match func(asynctrack.LiveResource) bool
	if q.traceID.IsValid() || q.id != 0 {
		match = func(lr asynctrack.LiveResource) bool {
			if tid, _ := stateTrace(lr.Data); q.traceID.IsValid() && tid != q.traceID {
				return false
			}
			return q.id == 0 || lr.ID == q.id || lr.TriggeredBy(q.id)
		}
	}
	page, total := e.registry.Live(match, q.offset, q.limit)
	v.Total = total
	for _, lr := range page {
		tid, sid := stateTrace(lr.Data)
		r := resource{
			ID:        lr.ID,
			Type:      lr.Type,
			Name:      lr.Name,
			TriggerID: lr.TriggerID,
			Created:   lr.Created,
			Age:       now.Sub(lr.Created).Seconds(),
			Triggers:  make([]link, len(lr.Triggers)),
			Depth:     lr.Depth,
		}
		if tid.IsValid() {
			r.TraceID, r.SpanID = tid.String(), sid.String()
		}
		for i, t := range lr.Triggers {
			r.Triggers[i] = link{ID: t.ID, Type: t.Type, Created: t.Created, Age: now.Sub(t.Created).Seconds(), Live: t.Live}
		}
		if st, _ := lr.Data.(*state); st != nil {
			r.Request = describe(st.desc)
		}
		r.Goroutines, r.GoroutinesOmitted = sg.byExec[lr.ID], sg.omitted[lr.ID]
		v.Resources = append(v.Resources, r)
	}
	if q.offset == 0 {
		v.Outliving = e.outlivingOf(q, sg, func(id uint64) bool { _, ok := e.registry.Data(id); return ok }, now)
	}
	return v
}

// node is a resource in the text tree: one of the view's resources or a link
// of their trigger chains.
type node struct {
	id       uint64
	typ      string
	name     string
	age      float64
	traceID  string
	note     string // why a node outside the answer is shown
	request  *requestInfo
	gs       []goroutines
	omitted  int // goroutine groups past the bound
	children []*node
	attached bool // has a parent in the tree
	earlier  int  // links of its chain beyond it that the registry did not keep
}

// tree returns the roots of v's tree, which grows from the oldest known
// trigger down to each live resource, siblings oldest first.
func (v view) tree() []*node {
	nodes := make(map[uint64]*node)
	get := func(id uint64, typ string, age float64, note string) *node {
		n := nodes[id]
		if n == nil {
			n = &node{id: id, typ: typ, age: age, note: note}
			nodes[id] = n
		}
		return n
	}
	for _, r := range v.Resources {
		n := get(r.ID, r.Type, r.Age, "")
		n.note, n.traceID, n.name = "", r.TraceID, r.Name // it may have been met as a link first
		n.request, n.gs, n.omitted = r.Request, r.Goroutines, r.GoroutinesOmitted
		for _, t := range r.Triggers {
			if n.attached {
				break // the rest of the chain is in the tree already
			}
			note := "(done)"
			if t.Live {
				note = "(live, outside this query)"
			}
			p := get(t.ID, t.Type, t.Age, note)
			p.children = append(p.children, n)
			n.attached = true
			n = p
		}
		if !n.attached {
			n.earlier = max(n.earlier, r.Depth-len(r.Triggers))
		}
	}
	var roots []*node
	for _, n := range nodes {
		if !n.attached {
			roots = append(roots, n)
			if n.earlier > 0 {
				n.note = strings.TrimSpace(n.note + fmt.Sprintf(" (%d earlier triggers not kept)", n.earlier))
			}
		}
	}
	sortNodes(roots)
	for _, n := range nodes {
		sortNodes(n.children)
	}
	return roots
}

// text renders v as a tree that grows from the oldest known trigger down to
// each live resource.
func (v view) text() []byte {
	roots := v.tree()
	var b strings.Builder
	switch {
	case v.TraceID != "":
		fmt.Fprintf(&b, "live async resources in trace %s: %d\n", v.TraceID, v.Total)
	case v.ID != 0:
		fmt.Fprintf(&b, "live async resources of execution %d: %d\n", v.ID, v.Total)
	default:
		fmt.Fprintf(&b, "live async resources: %d\n", v.Total)
	}
	if len(v.Resources) < v.Total {
		fmt.Fprintf(&b, "showing %d from offset %d, oldest first", len(v.Resources), v.Offset)
		if next := v.Offset + len(v.Resources); next < v.Total {
			fmt.Fprintf(&b, "; next page: offset=%d", next)
		}
		b.WriteByte('\n')
	}
	var write func(n *node, prefix, branch, indent string)
	write = func(n *node, prefix, branch, indent string) {
		fmt.Fprintf(&b, "%s%s%s %d", prefix, branch, printable(n.typ), n.id)
		if n.name != "" && n.request == nil { // a request's name is its type's
			b.WriteString(" " + printable(n.name))
		}
		writeRequest(&b, n.request)
		fmt.Fprintf(&b, "  age %s", age(n.age))
		if n.traceID != "" && v.TraceID == "" {
			fmt.Fprintf(&b, "  trace %s", n.traceID)
		}
		if n.note != "" {
			b.WriteString("  " + n.note)
		}
		b.WriteByte('\n')
		pad := prefix + indent + "    "
		if len(n.children) > 0 {
			pad = prefix + indent + "│   "
		}
		writeGoroutines(&b, pad, n.gs, n.omitted)
		for i, c := range n.children {
			if i == len(n.children)-1 {
				write(c, prefix+indent, "└── ", "    ")
			} else {
				write(c, prefix+indent, "├── ", "│   ")
			}
		}
	}
	for _, n := range roots {
		write(n, "", "", "")
	}
	if len(v.Outliving) > 0 {
		fmt.Fprintf(&b, "\ngoroutines still running for ended executions: %d\n", len(v.Outliving))
	}
	for _, o := range v.Outliving {
		typ := "execution"
		if o.Request != nil {
			typ = "request"
		}
		if o.ID == 0 {
			b.WriteString("scopes closed too long ago to tell whose\n")
			writeGoroutines(&b, "    ", o.Goroutines, o.Omitted)
			continue
		}
		fmt.Fprintf(&b, "%s %d", typ, o.ID)
		writeRequest(&b, o.Request)
		if o.Request != nil {
			fmt.Fprintf(&b, "  ended %s ago", age(o.EndedSeconds))
		}
		if o.TraceID != "" && v.TraceID == "" {
			fmt.Fprintf(&b, "  trace %s", o.TraceID)
		}
		b.WriteString("  (ended)\n")
		writeGoroutines(&b, "    ", o.Goroutines, o.Omitted)
	}
	return []byte(b.String())
}

// writeRequest writes what the text shows of a request: "  GET /profile
// user.id=ada".
func writeRequest(b *strings.Builder, r *requestInfo) {
	if r == nil {
		return
	}
	b.WriteString("  " + printable(r.label()))
	for _, kv := range r.Values {
		fmt.Fprintf(b, " %s=%s", printable(kv.Key), printable(kv.Value))
	}
}

// writeGoroutines writes goroutine groups, each line after pad: the count
// and state, then the frames, indented.
func writeGoroutines(b *strings.Builder, pad string, gs []goroutines, omitted int) {
	for _, g := range gs {
		noun := "goroutines"
		if g.Count == 1 {
			noun = "goroutine"
		}
		fmt.Fprintf(b, "%s%d %s: %s", pad, g.Count, noun, g.State)
		if g.Outlives {
			b.WriteString("  (outlives its scope)")
		}
		if g.Exited {
			b.WriteString("  (outside its scope: asynctrack.Exit)")
		}
		b.WriteByte('\n')
		for _, f := range g.Frames {
			fn, file := f.short()
			fmt.Fprintf(b, "%s    %s  %s\n", pad, printable(fn), printable(file))
		}
	}
	if omitted > 0 {
		fmt.Fprintf(b, "%s… %d more groups of goroutines\n", pad, omitted)
	}
}

// sortNodes puts ns in creation order: oldest first, then by ID. IDs alone
// do not follow creation order.
func sortNodes(ns []*node) {
	slices.SortFunc(ns, func(a, b *node) int {
		if c := cmp.Compare(b.age, a.age); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
}

// age formats seconds to a precision a reader can use.
func age(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	if d >= time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// printable quotes a type that would break the tree's lines.
func printable(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
