// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package propagator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	_ "github.com/otelctx/otelctx/internal/otelhandle" // reports (hook panics too) reach otel.Handle
	"github.com/otelctx/otelctx/internal/report"
)

const (
	scopeName     = "github.com/otelctx/otelctx/propagator"
	errorsMetric  = "otelctx.propagation.errors"
	droppedMetric = "otelctx.baggage.dropped"
)

// reason says why input was rejected or baggage was dropped. It is the value
// of the "reason" attribute on both counters.
type reason uint8

const (
	_ reason = iota
	reasonTraceparentMalformed
	reasonTraceparentMultiple
	reasonTracestateMalformed
	reasonTracestateTooManyMembers
	reasonTracestateDuplicateKey
	reasonBaggageMalformed
	reasonBaggageInvalidUTF8
	reasonIngressLimitMembers
	reasonIngressLimitBytes
	reasonIngressLimitMemberBytes
	reasonEgressLimitMembers
	reasonEgressLimitBytes
	reasonEgressLimitMemberBytes
	reasonEgressUnverified
	// Policy decisions below are counted as drops, never reported as errors.
	reasonIngressDenied
	reasonIngressPublic
	reasonEgressDenied
	numReasons
)

var reasonNames = [numReasons]string{
	reasonTraceparentMalformed:     "traceparent.malformed",
	reasonTraceparentMultiple:      "traceparent.multiple",
	reasonTracestateMalformed:      "tracestate.malformed",
	reasonTracestateTooManyMembers: "tracestate.too_many_members",
	reasonTracestateDuplicateKey:   "tracestate.duplicate_key",
	reasonBaggageMalformed:         "baggage.malformed_member",
	reasonBaggageInvalidUTF8:       "baggage.invalid_utf8",
	reasonIngressLimitMembers:      "ingress.limit.members",
	reasonIngressLimitBytes:        "ingress.limit.bytes",
	reasonIngressLimitMemberBytes:  "ingress.limit.member_bytes",
	reasonEgressLimitMembers:       "egress.limit.members",
	reasonEgressLimitBytes:         "egress.limit.bytes",
	reasonEgressLimitMemberBytes:   "egress.limit.member_bytes",
	reasonEgressUnverified:         "egress.unverified_transport",
	reasonIngressDenied:            "ingress.denied",
	reasonIngressPublic:            "ingress.public_endpoint",
	reasonEgressDenied:             "egress.denied",
}

var reasonMessages = [numReasons]string{
	reasonTraceparentMalformed:     "malformed traceparent ignored",
	reasonTraceparentMultiple:      "more than one traceparent value; all ignored",
	reasonTracestateMalformed:      "malformed tracestate discarded",
	reasonTracestateTooManyMembers: "tracestate with more than 32 list-members discarded",
	reasonTracestateDuplicateKey:   "duplicate tracestate key; the leftmost entry kept",
	reasonBaggageMalformed:         "malformed baggage list-member dropped",
	reasonBaggageInvalidUTF8:       "baggage value is not UTF-8; invalid bytes replaced",
	reasonIngressLimitMembers:      "inbound baggage over the member limit; members dropped",
	reasonIngressLimitBytes:        "inbound baggage over the size limit; members dropped",
	reasonIngressLimitMemberBytes:  "inbound baggage member over the member size limit dropped",
	reasonEgressLimitMembers:       "outbound baggage over the member limit; members dropped",
	reasonEgressLimitBytes:         "outbound baggage over the size limit; members dropped",
	reasonEgressLimitMemberBytes:   "outbound baggage member over the member size limit dropped",
	reasonEgressUnverified: "baggage granted to the destination withheld: NewTransport's base is not an " +
		"*http.Transport, so it cannot tell where the request is finally sent; put NewTransport innermost, " +
		"otelhttp.NewTransport(propagator.NewTransport(http.DefaultTransport, p))",
}

func (r reason) String() string { return reasonNames[r] }

// isError reports whether r is reported through internal/report and counted as an
// error, rather than only counted as a drop.
func (r reason) isError() bool { return r < reasonIngressDenied }

// reporter counts errors and drops and reports errors through
// internal/report, each reason at most once per report.Interval with the
// number of occurrences since the previous report: header values are
// attacker-controlled. Reports never quote the input, which may hold
// personal data.
type reporter struct {
	errors  metric.Int64Counter
	dropped metric.Int64Counter
	now     func() time.Time // time.Now; tests replace it
	bounds  [numReasons]report.Bound
	opts    [numReasons][]metric.AddOption
	debug   dropLog // WithDebugDrops
}

func newReporter(mp metric.MeterProvider) *reporter {
	r := &reporter{now: time.Now}
	meter := mp.Meter(scopeName)
	var errs []error
	var err error
	r.errors, err = meter.Int64Counter(errorsMetric,
		metric.WithDescription("Malformed or over-limit trace context and baggage seen by the propagator."),
		metric.WithUnit("{error}"))
	errs = append(errs, err)
	r.dropped, err = meter.Int64Counter(droppedMetric,
		metric.WithDescription("Baggage members the propagator did not extract or inject."),
		metric.WithUnit("{member}"))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		otel.Handle(fmt.Errorf("propagator: creating instruments: %w", err))
	}
	if r.errors == nil || r.dropped == nil {
		m := noop.NewMeterProvider().Meter(scopeName)
		r.errors, _ = m.Int64Counter(errorsMetric)
		r.dropped, _ = m.Int64Counter(droppedMetric)
	}
	for i := range r.opts {
		r.opts[i] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", reasonNames[i])))}
	}
	return r
}

// fail records one occurrence of the error reason.
func (r *reporter) fail(ctx context.Context, why reason) {
	r.errors.Add(ctx, 1, r.opts[why]...)
	r.bounds[why].Report(r.now(), 1, func(n int64) error {
		if n > 1 {
			return fmt.Errorf("propagator: %s (reason %s; %d more since the last report)", reasonMessages[why], why, n-1)
		}
		return fmt.Errorf("propagator: %s (reason %s)", reasonMessages[why], why)
	})
}

// drop records n members dropped for reason why, and for an error reason also
// one occurrence of the error.
func (r *reporter) drop(ctx context.Context, why reason, n int) {
	if n <= 0 {
		return
	}
	r.dropped.Add(ctx, int64(n), r.opts[why]...)
	if why.isError() {
		r.fail(ctx, why)
	}
}

// tally accumulates drops during one Extract or Inject so that each reason is
// recorded once per call.
type tally struct {
	n     [numReasons]int32
	dirty bool
}

func (t *tally) add(why reason, n int) {
	if n == 0 {
		return
	}
	t.n[why] += int32(n)
	t.dirty = true
}

func (t *tally) merge(u *tally) {
	for why, n := range u.n {
		t.n[why] += n
	}
	t.dirty = t.dirty || u.dirty
}

func (t *tally) flush(ctx context.Context, r *reporter) {
	if !t.dirty {
		return
	}
	for why, n := range t.n {
		if n > 0 {
			r.drop(ctx, reason(why), int(n))
		}
	}
}
