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
	Children []htmlNode
}

type htmlPage struct {
	TraceID  string
	TraceURL string
	ID       uint64
	Total    int
	Shown    int
	Offset   int
	Next     int // offset of the next page, 0 if none
	Time     string
	Roots    []htmlNode
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
				TraceURL: traceURL(n.traceID), Note: n.note, Live: n.note == "", Children: convert(n.children)}
		}
		return out
	}
	p := htmlPage{TraceID: v.TraceID, TraceURL: traceURL(v.TraceID), ID: v.ID, Total: v.Total,
		Shown: len(v.Resources), Offset: v.Offset, Time: v.Time.Format("15:04:05.000 MST"), Roots: convert(v.tree())}
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
</style>
</head>
<body>
<h1>Live async resources{{if .TraceID}} in trace {{if .TraceURL}}<a href="{{.TraceURL}}">{{.TraceID}}</a>{{else}}{{.TraceID}}{{end}}{{end}}{{if .ID}} of execution #{{.ID}}{{end}}</h1>
<p id="summary"><span id="total">{{.Total}}</span> live; showing <span id="shown">{{.Shown}}</span> from offset {{.Offset}}{{if .Next}}, next page at offset={{.Next}}{{end}}; updated {{.Time}}, refreshing every 5 s</p>
<div id="tree">{{template "nodes" .Roots}}</div>
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
        document.querySelectorAll("#tree details").forEach(function (d) { if (keep[d.parentNode.dataset.id]) d.open = false; });
      })
      .catch(function () {});
  }
  setInterval(refresh, 5000);
})();
</script>
</body>
</html>
{{define "nodes"}}<ul>{{range .}}<li data-id="{{.ID}}"{{if .Live}} class="live"{{end}}>{{if .Children}}<details open><summary>{{template "label" .}}</summary>{{template "nodes" .Children}}</details>{{else}}<span class="leaf">{{template "label" .}}</span>{{end}}</li>{{end}}</ul>{{end}}
{{define "label"}}<span class="type">{{.Type}}</span>{{if .Name}} <span class="name">{{.Name}}</span>{{end}} <span class="id">#{{.ID}}</span> <span class="age">{{.Age}}</span>{{if .TraceID}} {{if .TraceURL}}<a href="{{.TraceURL}}">trace {{.TraceID}}</a>{{else}}<span class="trace">trace {{.TraceID}}</span>{{end}}{{end}}{{if .Note}} <span class="note">{{.Note}}</span>{{end}}{{end}}
`))
