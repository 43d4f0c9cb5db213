// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package exporter

import (
	"html/template"
	"io"
	"strings"
)

// htmlNode is a node of the page's tree, ready for the template.
type htmlNode struct {
	ID       uint64
	Type     string
	Name     string
	Age      string
	TraceID  string
	TraceURL string // "" without a Jaeger URL
	Note     string
	Live     bool // a resource of the answer, not a link of a chain
	Request  *htmlRequest
	Groups   []htmlGroup
	Omitted  int
	Children []htmlNode
}

// htmlRequest is a request's method and route, and its values.
type htmlRequest struct {
	Label  string
	Values []keyValue
}

// htmlGroup is a group of goroutines, with their frames shortened.
type htmlGroup struct {
	Count    int
	State    string
	Outlives bool
	Exited   bool
	Frames   []htmlFrame
}

type htmlFrame struct{ Func, File, Full string }

// htmlOutliving is an ended execution with goroutines still in its scope.
type htmlOutliving struct {
	ID       uint64
	Request  *htmlRequest
	Ended    string
	TraceID  string
	TraceURL string
	Groups   []htmlGroup
	Omitted  int
}

func htmlRequestOf(r *requestInfo) *htmlRequest {
	if r == nil {
		return nil
	}
	return &htmlRequest{Label: r.label(), Values: r.Values}
}

func htmlGroups(gs []goroutines) []htmlGroup {
	out := make([]htmlGroup, len(gs))
	for i, g := range gs {
		out[i] = htmlGroup{Count: g.Count, State: g.State, Outlives: g.Outlives, Exited: g.Exited, Frames: make([]htmlFrame, len(g.Frames))}
		for j, f := range g.Frames {
			fn, file := f.short()
			out[i].Frames[j] = htmlFrame{Func: fn, File: file, Full: f.Function}
		}
	}
	return out
}

type htmlPage struct {
	TraceID    string
	TraceURL   string
	ID         uint64
	Total      int
	Shown      int
	Offset     int
	Next       int // offset of the next page, 0 if none
	Time       string
	Goroutines int
	Roots      []htmlNode
	Outliving  []htmlOutliving
}

// html writes v as a self-contained page: a collapsible tree, from the
// oldest known trigger down to each live resource, that refreshes itself.
// Every value is escaped by html/template; jaegerURL, if not empty, is the
// base of the trace links.
func (v view) html(w io.Writer, jaegerURL string) error {
	traceURL := func(id string) string {
		if jaegerURL == "" || id == "" {
			return ""
		}
		return strings.TrimSuffix(jaegerURL, "/") + "/trace/" + id
	}
	var convert func(ns []*node) []htmlNode
	convert = func(ns []*node) []htmlNode {
		out := make([]htmlNode, len(ns))
		for i, n := range ns {
			out[i] = htmlNode{ID: n.id, Type: n.typ, Name: n.name, Age: age(n.age), TraceID: n.traceID,
				TraceURL: traceURL(n.traceID), Note: n.note, Live: n.note == "", Request: htmlRequestOf(n.request),
				Groups: htmlGroups(n.gs), Omitted: n.omitted, Children: convert(n.children)}
		}
		return out
	}
	p := htmlPage{TraceID: v.TraceID, TraceURL: traceURL(v.TraceID), ID: v.ID, Total: v.Total,
		Shown: len(v.Resources), Offset: v.Offset, Time: v.Time.Format("15:04:05.000 MST"), Goroutines: v.Goroutines,
		Roots: convert(v.tree())}
	for _, o := range v.Outliving {
		h := htmlOutliving{ID: o.ID, Request: htmlRequestOf(o.Request), TraceID: o.TraceID, TraceURL: traceURL(o.TraceID),
			Groups: htmlGroups(o.Goroutines), Omitted: o.Omitted}
		if o.Request != nil {
			h.Ended = age(o.EndedSeconds)
		}
		p.Outliving = append(p.Outliving, h)
	}
	if next := v.Offset + len(v.Resources); next < v.Total {
		p.Next = next
	}
	return pageTemplate.Execute(w, p)
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>live async resources</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.2em; }
#summary { color: #555; }
ul { list-style: none; padding-left: 1.2em; margin: 0; border-left: 1px solid #ddd; }
#tree > ul { border-left: none; padding-left: 0; }
summary { cursor: pointer; }
.leaf { padding-left: 1.1em; display: inline-block; }
.type { font-weight: 600; }
.name { font-family: ui-monospace, monospace; color: #1a5490; }
.id, .age { color: #666; }
.note { color: #a15c00; font-style: italic; }
li.live > details > summary .type, li.live > .leaf .type { color: #0a7a2f; }
.req { font-weight: 600; color: #6a1b9a; }
.kv { font-family: ui-monospace, monospace; background: #f3eef8; padding: 0 .3em; border-radius: 3px; }
ul.gs { border-left: 2px solid #f0c36d; margin: .2em 0 .3em .4em; }
.state { font-weight: 600; color: #8a4b00; }
ol.frames { margin: 0; padding-left: 1.4em; list-style: none; font-family: ui-monospace, monospace; font-size: 12px; }
.fn { color: #1a5490; }
.file { color: #888; }
h2 { font-size: 1.05em; margin-top: 1.5em; }
</style>
</head>
<body>
<h1>Live async resources{{if .TraceID}} in trace {{if .TraceURL}}<a href="{{.TraceURL}}">{{.TraceID}}</a>{{else}}{{.TraceID}}{{end}}{{end}}{{if .ID}} of execution #{{.ID}}{{end}}</h1>
<p id="summary"><span id="total">{{.Total}}</span> live; showing <span id="shown">{{.Shown}}</span> from offset {{.Offset}}{{if .Next}}, next page at offset={{.Next}}{{end}}; {{.Goroutines}} goroutines in the process; updated {{.Time}}, refreshing every 5 s</p>
<div id="tree">{{template "nodes" .Roots}}</div>
<div id="outliving">{{if .Outliving}}<h2>Goroutines still running for ended executions</h2><ul>{{range .Outliving}}<li data-id="{{.ID}}"><details open><summary>{{if not .ID}}<span class="type">scopes closed too long ago to tell whose</span>{{else}}<span class="type">{{if .Request}}request{{else}}execution{{end}}</span> <span class="id">#{{.ID}}</span>{{end}}{{template "request" .Request}}{{if .Ended}} <span class="age">ended {{.Ended}} ago</span>{{end}}{{if .TraceID}} {{if .TraceURL}}<a href="{{.TraceURL}}">trace {{.TraceID}}</a>{{else}}<span class="trace">trace {{.TraceID}}</span>{{end}}{{end}} <span class="note">(ended)</span></summary>{{template "groups" .}}</details></li>{{end}}</ul>{{end}}</div>
<script>
"use strict";
(function () {
  function closed() {
    var ids = {};
    document.querySelectorAll("#tree details:not([open])").forEach(function (d) { ids[d.parentNode.dataset.id] = true; });
    return ids;
  }
  function refresh() {
    fetch(location.href, { headers: { Accept: "text/html" }, cache: "no-store" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var keep = closed();
        document.getElementById("tree").replaceWith(doc.getElementById("tree"));
        document.getElementById("summary").replaceWith(doc.getElementById("summary"));
        document.getElementById("outliving").replaceWith(doc.getElementById("outliving"));
        document.querySelectorAll("#tree details").forEach(function (d) { if (keep[d.parentNode.dataset.id]) d.open = false; });
      })
      .catch(function () {});
  }
  setInterval(refresh, 5000);
})();
</script>
</body>
</html>
{{define "nodes"}}<ul>{{range .}}<li data-id="{{.ID}}"{{if .Live}} class="live"{{end}}>{{if or .Children .Groups}}<details open><summary>{{template "label" .}}</summary>{{template "groups" .}}{{if .Children}}{{template "nodes" .Children}}{{end}}</details>{{else}}<span class="leaf">{{template "label" .}}</span>{{end}}</li>{{end}}</ul>{{end}}
{{define "groups"}}{{if .Groups}}<ul class="gs">{{range .Groups}}<li class="g"><span class="state">{{.Count}} goroutine{{if ne .Count 1}}s{{end}}: {{.State}}</span>{{if .Outlives}} <span class="note">outlives its scope</span>{{end}}{{if .Exited}} <span class="note">outside its scope: asynctrack.Exit</span>{{end}}<ol class="frames">{{range .Frames}}<li><span class="fn" title="{{.Full}}">{{.Func}}</span> <span class="file">{{.File}}</span></li>{{end}}</ol></li>{{end}}{{if .Omitted}}<li class="g note">… {{.Omitted}} more groups of goroutines</li>{{end}}</ul>{{end}}{{end}}
{{define "request"}}{{with .}} <span class="req">{{.Label}}</span>{{range .Values}} <span class="kv">{{.Key}}={{.Value}}</span>{{end}}{{end}}{{end}}
{{define "label"}}<span class="type">{{.Type}}</span>{{if and .Name (not .Request)}} <span class="name">{{.Name}}</span>{{end}} <span class="id">#{{.ID}}</span>{{template "request" .Request}} <span class="age">{{.Age}}</span>{{if .TraceID}} {{if .TraceURL}}<a href="{{.TraceURL}}">trace {{.TraceID}}</a>{{else}}<span class="trace">trace {{.TraceID}}</span>{{end}}{{end}}{{if .Note}} <span class="note">{{.Note}}</span>{{end}}{{end}}
`))
