// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package autoprop

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/baggage"

	"github.com/otelctx/otelctx/baggagebridge"
)

// TestSelection runs a service, configured by OTEL_PROPAGATORS and the
// OTELCTX_* variables alone, in a process of its own for each value of
// OTEL_PROPAGATORS: the service installs its error handler in main, after
// this package's initialisation, and serves one request with forged
// baggage. Where otelctx is not selected, the stock propagators take every
// key, and the handler hears, naming the variables, that no otelctx
// propagator reads them and how to fix it; with the stock baggage
// propagator beside otelctx, that it opens ingress, and egress too where
// it writes last.
func TestSelection(t *testing.T) {
	if os.Getenv("OTELCTXTEST_SELECTION") != "" {
		serveOne()
		return
	}
	policy := []string{"OTELCTX_PUBLIC_ENDPOINT=true", "OTELCTX_INGRESS_ALLOW=user.id", "OTELCTX_EGRESS=*.internal=user.id"}
	const notRead = "OTELCTX_EGRESS, OTELCTX_INGRESS_ALLOW, OTELCTX_PUBLIC_ENDPOINT are set, but no otelctx propagator reads them"
	for _, tc := range []struct {
		propagators []string // nil: unset
		kept        string
		reports     []string
	}{
		{nil, "request.id,role,user.id", []string{notRead, "OTEL_PROPAGATORS is unset", "Set OTEL_PROPAGATORS=otelctx"}},
		{[]string{""}, "request.id,role,user.id", []string{notRead, "OTEL_PROPAGATORS is empty"}},
		{[]string{"tracecontext,baggage"}, "request.id,role,user.id", []string{notRead, `OTEL_PROPAGATORS="tracecontext,baggage" does not name otelctx`}},
		{[]string{" otelctx "}, "request.id,role,user.id", []string{notRead, `names " otelctx ", which autoprop does not match`, "write otelctx"}},
		{[]string{"OTELCTX"}, "request.id,role,user.id", []string{notRead, `names "OTELCTX"`, "write otelctx"}},
		{[]string{"baggage,otelctx"}, "request.id,role,user.id", []string{"it accepts every inbound baggage member, past the ingress policy;"}},
		{[]string{"otelctx,baggage"}, "request.id,role,user.id", []string{"it accepts every inbound baggage member, past the ingress policy, and, listed after it, sends every member past the egress rules"}},
		{[]string{"otelctx"}, "", nil},
	} {
		t.Run(fmt.Sprintf("%q", tc.propagators), func(t *testing.T) {
			env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
				return strings.HasPrefix(kv, "OTEL_PROPAGATORS=") || strings.HasPrefix(strings.ToUpper(kv), "OTELCTX_")
			})
			env = append(append(env, "OTELCTXTEST_SELECTION=1"), policy...)
			if tc.propagators != nil {
				env = append(env, "OTEL_PROPAGATORS="+tc.propagators[0])
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestSelection$")
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			var kept string
			var reports []string
			for line := range strings.SplitSeq(string(out), "\n") {
				if k, ok := strings.CutPrefix(line, "kept: "); ok {
					kept = k
				}
				if r, ok := strings.CutPrefix(line, "report: "); ok && strings.HasPrefix(r, "propagator:") {
					reports = append(reports, r)
				}
			}
			assert.Equal(t, tc.kept, kept)
			if tc.reports == nil {
				assert.Empty(t, reports)
				return
			}
			require.Len(t, reports, 1, "%s", out)
			for _, want := range tc.reports {
				assert.Contains(t, reports[0], want)
			}
		})
	}
}

// serveOne is the service of TestSelection.
func serveOne() {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { fmt.Println("report:", err) }))
	otel.SetTextMapPropagator(autoprop.NewTextMapPropagator())
	var kept []string
	h := baggagebridge.Middleware()(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		for _, m := range baggage.FromContext(r.Context()).Members() {
			kept = append(kept, m.Key())
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("baggage", "user.id=1,role=admin,request.id=r")
	h.ServeHTTP(httptest.NewRecorder(), req)
	slices.Sort(kept)
	fmt.Println("kept:", strings.Join(kept, ","))
}
