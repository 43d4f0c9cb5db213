// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// jsDir holds the OpenTelemetry JS peer; scripts/test.sh installs its
// packages (npm ci) before the tests.
var jsDir = filepath.Join("testdata", "otel-js")

// jsPeer is a running testdata/otel-js/peer.mjs.
type jsPeer struct {
	url    string
	client *http.Client
}

// startJSPeer starts the peer, or skips the test where Node.js or the
// peer's packages are missing, which CI=true makes a failure.
func startJSPeer(t *testing.T) *jsPeer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(jsDir, "node_modules", "@opentelemetry", "core"))
	}
	if err != nil {
		msg := fmt.Sprintf("the OpenTelemetry JS peer needs Node.js and `npm ci --prefix %s` (scripts/test.sh runs it): %v", jsDir, err)
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(node, "peer.mjs")
	cmd.Dir = jsDir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		stdin.Close() // the peer exits when its stdin closes
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	port := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		port <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case p := <-port:
		_, err := strconv.Atoi(p)
		require.NoError(t, err, "the peer's first line is its port")
		return &jsPeer{url: "http://127.0.0.1:" + p, client: &http.Client{Timeout: 10 * time.Second}}
	case <-time.After(30 * time.Second):
		t.Fatal("the OpenTelemetry JS peer printed no port within 30s")
		return nil
	}
}

// jsView is what OpenTelemetry JS holds of a context: see view in peer.mjs.
type jsView struct {
	TraceID    string       `json:"traceId"`
	SpanID     string       `json:"spanId"`
	TraceFlags int          `json:"traceFlags"`
	TraceState string       `json:"traceState"`
	Baggage    [][3]*string `json:"baggage"` // key, value, metadata or null
}

// extract sends a request to the peer through rt, with ctx, and returns what
// the peer extracted from the headers it received and the headers it injects
// from that.
func (p *jsPeer) extract(t *testing.T, ctx context.Context, rt http.RoundTripper) (jsView, map[string]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/extract", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: rt, Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out struct {
		Extracted jsView            `json:"extracted"`
		Injected  map[string]string `json:"injected"`
	}
	require.NoError(t, json.Unmarshal(body, &out))
	return out.Extracted, out.Injected
}

// inject returns the headers the peer injects for the context v describes.
func (p *jsPeer) inject(t *testing.T, v jsView) http.Header {
	t.Helper()
	in, err := json.Marshal(v)
	require.NoError(t, err)
	resp, err := p.client.Post(p.url+"/inject", "application/json", bytes.NewReader(in))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	var out map[string]string
	require.NoError(t, json.Unmarshal(body, &out))
	h := http.Header{}
	for k, v := range out {
		h.Set(k, v)
	}
	return h
}

// goMember is a baggage member as Go holds it, to compare two baggages.
type goMember struct{ Key, Value, Props string }

func goMembers(b baggage.Baggage) []goMember {
	var ms []goMember
	for _, m := range b.Members() {
		var props []string
		for _, p := range m.Properties() {
			props = append(props, p.String())
		}
		ms = append(ms, goMember{m.Key(), m.Value(), strings.Join(props, ";")})
	}
	slices.SortFunc(ms, func(a, b goMember) int { return strings.Compare(a.Key, b.Key) })
	return ms
}

func str(s string) *string { return &s }

// jsInteropBaggage is a baggage of values every encoder must escape:
// delimiters, percent signs, spaces, non-ASCII text, and properties.
func jsInteropBaggage(t *testing.T) baggage.Baggage {
	t.Helper()
	prop, err := baggage.NewKeyValueProperty("source", "edge")
	require.NoError(t, err)
	flag, err := baggage.NewKeyProperty("hashed")
	require.NoError(t, err)
	var ms []baggage.Member
	for _, kv := range []struct {
		k, v  string
		props []baggage.Property
	}{
		{"user.id", "ada", nil},
		{"tenant.id", "acme corp", []baggage.Property{prop, flag}},
		{"request.id", "r-1,2;3=4", nil},
		{"note", "100% ünïcødé ✓", nil},
		{"path", "/a/b?c=d&e", nil},
		{"empty", "", nil},
	} {
		m, err := baggage.NewMemberRaw(kv.k, kv.v, kv.props...)
		require.NoError(t, err)
		ms = append(ms, m)
	}
	b, err := baggage.New(ms...)
	require.NoError(t, err)
	return b
}

// TestOpenTelemetryJS checks that a Node.js service of OpenTelemetry JS
// (@opentelemetry/core's W3C propagators, testdata/otel-js) and otelctx
// understand each other exactly as it and OpenTelemetry Go's stock
// propagators do, both ways, over HTTP on loopback: what JS extracts from
// what otelctx sends, through README's client (otelhttp outside
// NewTransport) under a rule that grants the peer every key, and what
// otelctx extracts from what JS sends.
func TestOpenTelemetryJS(t *testing.T) {
	peer := startJSPeer(t)
	otelctx := New(WithEgress(EgressRule{Hosts: []string{"127.0.0.1"}, Prefixes: []string{""}}))
	stock := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	clients := map[string]http.RoundTripper{
		"otelctx": otelhttp.NewTransport(NewTransport(http.DefaultTransport, otelctx), otelhttp.WithPropagators(otelctx)),
		"stock":   otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithPropagators(stock)),
	}
	t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)

	bag := jsInteropBaggage(t)
	ts, err := trace.ParseTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
	require.NoError(t, err)
	for _, flags := range []trace.TraceFlags{0, trace.FlagsSampled} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
			SpanID:     trace.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31},
			TraceFlags: flags,
			TraceState: ts,
			Remote:     true,
		})
		ctx := baggage.ContextWithBaggage(trace.ContextWithRemoteSpanContext(context.Background(), sc), bag)

		// Go to JS: what JS extracts, and what it injects from that.
		views := map[string]jsView{}
		reinjected := map[string]map[string]string{}
		for name, rt := range clients {
			views[name], reinjected[name] = peer.extract(t, ctx, rt)
		}
		assert.Equal(t, views["stock"], views["otelctx"], "JS extracts from otelctx what it extracts from stock (flags %d)", flags)
		v := views["otelctx"]
		assert.Equal(t, sc.TraceID().String(), v.TraceID)
		assert.Equal(t, sc.SpanID().String(), v.SpanID)
		assert.Equal(t, int(flags), v.TraceFlags)
		assert.Equal(t, ts.String(), v.TraceState)
		// OpenTelemetry JS drops members of empty value as it extracts,
		// whoever sent them.
		want := map[string]string{}
		for _, m := range bag.Members() {
			if m.Value() != "" {
				want[m.Key()] = m.Value()
			}
		}
		got := map[string]string{}
		for _, e := range v.Baggage {
			got[*e[0]] = *e[1]
		}
		assert.Equal(t, want, got, "JS decodes every value otelctx encoded")

		// JS's injection of what it extracted, back into Go: otelctx
		// extracts what stock extracts, which is what Go sent.
		h := http.Header{}
		for k, v := range reinjected["otelctx"] {
			h.Set(k, v)
		}
		checkExtract(t, otelctx, stock, h, sc, bag.DeleteMember("empty"))
	}

	// The policy holds against a JS peer too: granted user.id alone, it
	// receives user.id alone, and the trace context in full.
	narrow := New(WithEgress(EgressRule{Hosts: []string{"127.0.0.1"}, Keys: []string{"user.id"}}))
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true})
	ctx := baggage.ContextWithBaggage(trace.ContextWithRemoteSpanContext(context.Background(), sc), bag)
	got, _ := peer.extract(t, ctx, otelhttp.NewTransport(NewTransport(http.DefaultTransport, narrow), otelhttp.WithPropagators(narrow)))
	assert.Equal(t, sc.TraceID().String(), got.TraceID)
	require.Len(t, got.Baggage, 1)
	assert.Equal(t, [2]string{"user.id", "ada"}, [2]string{*got.Baggage[0][0], *got.Baggage[0][1]})

	// JS to Go: a baggage JS builds itself, with metadata.
	v := jsView{
		TraceID:    "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:     "00f067aa0ba902b7",
		TraceFlags: 1,
		TraceState: "vendor=abc,other=x",
		Baggage: [][3]*string{
			{str("user.id"), str("grace hopper"), nil},
			{str("request.id"), str("r-9;x=y,z"), str("ttl=30;internal")},
			{str("note"), str("50% ✓"), nil},
		},
	}
	h := peer.inject(t, v)
	require.NotEmpty(t, h.Get("baggage"))
	tid, err := trace.TraceIDFromHex(v.TraceID)
	require.NoError(t, err)
	sid, err := trace.SpanIDFromHex(v.SpanID)
	require.NoError(t, err)
	jts, err := trace.ParseTraceState(v.TraceState)
	require.NoError(t, err)
	sc = trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: jts, Remote: true})
	ctx = stock.Extract(context.Background(), propagation.HeaderCarrier(h))
	checkExtract(t, otelctx, stock, h, sc, baggage.FromContext(ctx))
	assert.Equal(t, []goMember{
		{"note", "50% ✓", ""},
		{"request.id", "r-9;x=y,z", "ttl=30;internal"},
		{"user.id", "grace hopper", ""},
	}, goMembers(baggage.FromContext(ctx)), "what JS sent, as stock reads it")
}

// checkExtract checks that otelctx extracts from h the span context sc and
// the baggage want, as stock does.
func checkExtract(t *testing.T, otelctx, stock propagation.TextMapPropagator, h http.Header, sc trace.SpanContext, want baggage.Baggage) {
	t.Helper()
	for name, p := range map[string]propagation.TextMapPropagator{"otelctx": otelctx, "stock": stock} {
		ctx := p.Extract(context.Background(), propagation.HeaderCarrier(h.Clone()))
		assert.True(t, sc.Equal(trace.SpanContextFromContext(ctx)), "%s: span context %v, want %v", name, trace.SpanContextFromContext(ctx), sc)
		assert.Equal(t, goMembers(want), goMembers(baggage.FromContext(ctx)), "%s: baggage", name)
	}
}
