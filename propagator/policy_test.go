// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
)

const matrixBaggage = "tenant.id=acme,app.flag=on,app.user=alice,secret=s3,other=x"

// publicIf marks the requests for which isPublic reports true as arriving
// at a public endpoint, as ExampleContextWithPublicEndpoint does.
func publicIf(isPublic func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isPublic(r) {
				r = r.WithContext(ContextWithPublicEndpoint(r.Context()))
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestIngressMatrix(t *testing.T) {
	public := publicIf(func(*http.Request) bool { return true })
	for _, tc := range []struct {
		name   string
		opts   []Option
		public bool // mark the request public with the middleware
		want   []string
	}{
		{"default accepts every key", nil, false, []string{"tenant.id", "app.flag", "app.user", "secret", "other"}},
		{"allowlist", []Option{WithIngressAllow("tenant.id", "other")}, false, []string{"tenant.id", "other"}},
		{"prefixes", []Option{WithIngressPrefixes("app.")}, false, []string{"app.flag", "app.user"}},
		{"allowlist and prefixes", []Option{WithIngressAllow("tenant.id"), WithIngressPrefixes("app.")}, false, []string{"tenant.id", "app.flag", "app.user"}},
		{"denylist", []Option{WithIngressDeny("secret")}, false, []string{"tenant.id", "app.flag", "app.user", "other"}},
		{"denylist wins over allowlist", []Option{WithIngressPrefixes("app."), WithIngressDeny("app.user")}, false, []string{"app.flag"}},
		{"options add up", []Option{WithIngressAllow("tenant.id"), WithIngressAllow("other")}, false, []string{"tenant.id", "other"}},
		{"public endpoint drops everything by default", []Option{WithPublicEndpoint()}, false, nil},
		{"public endpoint keeps its own allowlist", []Option{WithPublicEndpoint(), WithPublicAllow("tenant.id", "app.flag")}, false, []string{"tenant.id", "app.flag"}},
		{"public endpoint ignores the trusted allowlist", []Option{WithPublicEndpoint(), WithIngressAllow("other"), WithIngressPrefixes("app."), WithPublicAllow("tenant.id")}, false, []string{"tenant.id"}},
		{"public endpoint keeps the denylist", []Option{WithPublicEndpoint(), WithPublicAllow("app.flag", "app.user"), WithIngressDeny("app.user")}, false, []string{"app.flag"}},
		{"public allowlist alone does not make a public endpoint", []Option{WithPublicAllow("tenant.id")}, false, []string{"tenant.id", "app.flag", "app.user", "secret", "other"}},
		{"public request drops everything by default", nil, true, nil},
		{"public request keeps the public allowlist", []Option{WithIngressPrefixes("app."), WithPublicAllow("tenant.id")}, true, []string{"tenant.id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.opts...)
			var got baggage.Baggage
			h := http.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = baggage.FromContext(p.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
			}))
			if tc.public {
				h = public(h)
			}
			r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
			require.NoError(t, err)
			r.Header.Set("baggage", matrixBaggage)
			h.ServeHTTP(nil, r)
			assert.ElementsMatch(t, tc.want, keys(got))
		})
	}
}

func TestPublicEndpointPredicate(t *testing.T) {
	mw := publicIf(func(r *http.Request) bool { return r.URL.Path == "/public" })
	all := []string{"tenant.id", "app.flag", "app.user", "secret", "other"}
	for _, tc := range []struct {
		name string
		opts []Option
		path string
		want []string
	}{
		{"public request", nil, "/public", nil},
		{"internal request", nil, "/internal", all},
		{"public request with public allowlist", []Option{WithPublicAllow("tenant.id")}, "/public", []string{"tenant.id"}},
		{"internal request with public allowlist", []Option{WithPublicAllow("tenant.id")}, "/internal", all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.opts...)
			var got baggage.Baggage
			h := mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				got = baggage.FromContext(p.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
			}))
			r, err := http.NewRequest(http.MethodGet, "http://127.0.0.1"+tc.path, nil)
			require.NoError(t, err)
			r.Header.Set("baggage", matrixBaggage)
			h.ServeHTTP(nil, r)
			assert.ElementsMatch(t, tc.want, keys(got))
		})
	}
}

func TestMergeMatrix(t *testing.T) {
	const localHeader = "tenant.id=local,only.local=1;p"
	local := mustBaggage(t, localHeader)
	localOnly := map[string]member{"tenant.id": {"local", nil}, "only.local": {"1", []string{"p"}}}
	for _, tc := range []struct {
		name   string
		opts   []Option
		header string
		want   map[string]member
	}{
		{"local wins by default", nil, "tenant.id=remote,only.remote=2",
			map[string]member{"tenant.id": {"local", nil}, "only.local": {"1", []string{"p"}}, "only.remote": {"2", nil}}},
		{"remote wins", []Option{WithMerge(MergeRemoteWins)}, "tenant.id=remote,only.remote=2",
			map[string]member{"tenant.id": {"remote", nil}, "only.local": {"1", []string{"p"}}, "only.remote": {"2", nil}}},
		{"no remote baggage keeps local", nil, "", localOnly},
		{"remote baggage all dropped keeps local", []Option{WithIngressDeny("x")}, "x=1", localOnly},
		{"local members count toward the byte limit", nil,
			"big=" + strings.Repeat("v", 8192-len(localHeader+",big=")+1), localOnly},
		{"local members count toward the member limit", nil, members(63, "v"),
			func() map[string]member {
				m := map[string]member{"tenant.id": {"local", nil}, "only.local": {"1", []string{"p"}}}
				for _, k := range keyRange(0, 61) {
					m[k] = member{"v", nil}
				}
				return m
			}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.opts...)
			ctx := baggage.ContextWithBaggage(context.Background(), local)
			h := http.Header{}
			if tc.header != "" {
				h.Set("baggage", tc.header)
			}
			got := baggage.FromContext(p.Extract(ctx, propagation.HeaderCarrier(h)))
			assert.Equal(t, tc.want, baggageOf(t, got))
		})
	}
}

func TestMergeUnknownIgnored(t *testing.T) {
	errs := captureErrors(t)
	p := New(WithMerge(Merge(7)))
	assert.Len(t, errs(), 1)
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, "k=local"))
	got := baggage.FromContext(p.Extract(ctx, propagationHeader("baggage", "k=remote")))
	assert.Equal(t, "local", got.Member("k").Value())
}

func TestEgressMatrix(t *testing.T) {
	p := New(
		WithEgress(
			EgressRule{Hosts: []string{"*.internal.example", "10.0.0.7"}, Prefixes: []string{""}},
			EgressRule{Hosts: []string{"api.partner.example:8443"}, Keys: []string{"tenant.id"}},
			EgressRule{Hosts: []string{"[::1]:9000", "LOCALHOST"}, Prefixes: []string{"app."}},
			EgressRule{Hosts: []string{"*"}, Keys: []string{"request.id"}},
		),
	)
	ctx := baggage.ContextWithBaggage(context.Background(),
		mustBaggage(t, "tenant.id=acme,app.flag=on,secret=s3,request.id=r1"))
	all := "app.flag=on,request.id=r1,secret=s3,tenant.id=acme"
	for _, tc := range []struct {
		dest string // "" for unknown
		want string
	}{
		{"", "request.id=r1"},
		{"svc.internal.example", all},
		{"a.b.internal.example:8080", all},
		{"SVC.Internal.Example", all},
		{"internal.example", "request.id=r1"}, // the apex is not a subdomain
		{"evilinternal.example", "request.id=r1"},
		{"10.0.0.7:443", all},
		{"10.0.0.8", "request.id=r1"},
		{"api.partner.example:8443", "request.id=r1,tenant.id=acme"},
		{"api.partner.example:443", "request.id=r1"},
		{"api.partner.example", "request.id=r1"},
		{"[::1]:9000", "app.flag=on,request.id=r1"},
		{"[::1]:9001", "request.id=r1"},
		{"localhost:3000", "app.flag=on,request.id=r1"},
		{"third-party.example", "request.id=r1"},
	} {
		t.Run(tc.dest, func(t *testing.T) {
			assert.Equal(t, tc.want, injectTo(p, ctx, tc.dest).Get("baggage"))
		})
	}
}

func TestEgressDefaultSendsNoBaggage(t *testing.T) {
	p := New()
	ctx := extract(p, "traceparent", suiteTraceparent, "baggage", "k=v")
	require.Equal(t, 1, baggage.FromContext(ctx).Len())
	for _, dest := range []string{"", "127.0.0.1:8080"} {
		h := injectTo(p, ctx, dest)
		assert.Empty(t, h.Values("baggage"))
		assert.Equal(t, suiteTraceparent, h.Get("traceparent"), "the trace context still flows")
	}
}

func TestEgressRemovesStaleHeader(t *testing.T) {
	// A baggage header copied from an inbound request does not get past the
	// policy.
	p := New(WithEgress(EgressRule{Hosts: []string{"*"}, Keys: []string{"ok"}}))
	for _, tc := range []struct {
		name string
		bag  string
		want []string
	}{
		{"nothing granted", "secret=1", nil},
		{"no baggage", "", nil},
		{"replaced", "ok=1,secret=1", []string{"ok=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.bag != "" {
				ctx = baggage.ContextWithBaggage(ctx, mustBaggage(t, tc.bag))
			}
			h := headers("baggage", "secret=from-inbound", "baggage", "more=1")
			p.Inject(ctx, propagation.HeaderCarrier(h))
			assert.Equal(t, tc.want, h.Values("baggage"))
		})
	}
}

func TestEgressInvalidHostPatterns(t *testing.T) {
	errs := captureErrors(t)
	p := New(WithEgress(EgressRule{Hosts: []string{"", "*.", "a*b.example", "*.*.example", "ok.example"}, Prefixes: []string{""}}))
	assert.Len(t, errs(), 4)
	ctx := baggage.ContextWithBaggage(context.Background(), mustBaggage(t, "k=v"))
	assert.Equal(t, "k=v", injectTo(p, ctx, "ok.example").Get("baggage"))
	assert.Empty(t, injectTo(p, ctx, "x.example").Get("baggage"))
}

func TestEgressManyRules(t *testing.T) {
	// More matching rules than fit on the stack still combine, with exact
	// keys and with prefixes.
	for _, usePrefixes := range []bool{false, true} {
		var rules []EgressRule
		var want []string
		for i := range 12 {
			k := string(rune('a' + i))
			r := EgressRule{Hosts: []string{"*"}, Keys: []string{k}}
			if usePrefixes {
				r = EgressRule{Hosts: []string{"*"}, Prefixes: []string{k}}
			}
			rules = append(rules, r)
			want = append(want, k+"=1")
		}
		p := New(WithEgress(rules...))
		b := mustBaggage(t, "a=1,b=1,c=1,d=1,e=1,f=1,g=1,h=1,i=1,j=1,k=1,l=1,z=1")
		got := inject(p, baggage.ContextWithBaggage(context.Background(), b)).Get("baggage")
		assert.Equal(t, strings.Join(want, ","), got)
	}
}

func TestSplitHostPort(t *testing.T) {
	for in, want := range map[string][2]string{
		"example.com":      {"example.com", ""},
		"example.com:80":   {"example.com", "80"},
		"127.0.0.1:8080":   {"127.0.0.1", "8080"},
		"[::1]:80":         {"::1", "80"},
		"[::1]":            {"::1", ""},
		"::1":              {"::1", ""},
		"[fe80::1%25en0]":  {"fe80::1%25en0", ""},
		"[broken":          {"[broken", ""},
		"":                 {"", ""},
		"example.com:":     {"example.com", ""},
		"[::1]junk":        {"::1", ""},
		"host:with:colons": {"host:with:colons", ""},
	} {
		name, port := splitHostPort(in)
		assert.Equal(t, want, [2]string{name, port}, in)
	}
}
