// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package propagator provides a TextMapPropagator for W3C Trace Context and
// W3C Baggage that decides which baggage crosses a trust boundary.
//
// It replaces propagation.NewCompositeTextMapPropagator(
// propagation.TraceContext{}, propagation.Baggage{}) in one line of SDK
// setup:
//
//	otel.SetTextMapPropagator(propagator.New())
//
// New() alone propagates the trace context in full and accepts inbound
// baggage within the W3C limits, but sends no baggage anywhere: options say
// which baggage may come in from whom and go out to where, for example
//
//	otel.SetTextMapPropagator(propagator.New(
//		propagator.WithPublicAllow("request.id"),
//		propagator.WithEgress(propagator.EgressRule{
//			Hosts: []string{"*.svc.cluster.local"},
//			Keys:  []string{"tenant.id", "request.id"},
//		}),
//	))
//
// with HTTP clients built on NewTransport, which writes each request's
// baggage for the host it is sent to.
//
// The policy can also come from the environment (WithEnv), in these
// variables, read at the propagator's first use and applied where WithEnv
// is among the options (see WithEnv). Every list of keys, in these variables
// and in the options alike, takes "prefix*" for the keys that start with
// prefix and "*" for every key; any other entry names one key, with case:
//
//	OTELCTX_INGRESS_ALLOW     user.id,tenant.*               WithIngressAllow
//	OTELCTX_INGRESS_PREFIXES  app.                           WithIngressPrefixes
//	OTELCTX_INGRESS_DENY      secret,internal.*              WithIngressDeny
//	OTELCTX_PUBLIC_ENDPOINT   true                           WithPublicEndpoint
//	OTELCTX_PUBLIC_ALLOW      request.id                     WithPublicAllow
//	OTELCTX_LEGACY_HEADERS    userid=user.id,x-request-id=request.id   WithLegacyHeader
//	OTELCTX_EGRESS            *.internal=user.id,tenant.*;partner.example=request.id   WithEgress
//	OTELCTX_MERGE             local-wins | remote-wins       WithMerge
//	OTELCTX_MAX_MEMBERS, OTELCTX_MAX_BYTES, OTELCTX_MAX_MEMBER_BYTES   the limits
//	OTELCTX_DEBUG_DROPS       true                           WithDebugDrops
//
// An invalid ingress variable closes ingress: Extract then accepts no
// baggage at all. Unknown OTELCTX_ names are reported with the closest
// known one.
//
// The package github.com/otelctx/otelctx/propagator/autoprop, imported for
// its side effect, registers New(WithEnv()) with contrib's autoprop under
// the name "otelctx", so that OTEL_PROPAGATORS=otelctx selects it; this
// package registers nothing itself.
//
// # Trace context
//
// Extract follows the current text of W3C Trace Context (level 2): repeated
// traceparent or tracestate fields are combined as RFC 9110 combines them;
// more than one traceparent value is invalid; tracestate keys follow the
// current grammar (a lowercase letter or digit, then up to 255 of a-z 0-9 _ -
// * / @, so "foo@bar@baz" is valid and "@foo" is not); a tracestate with an
// invalid member or more than 32 members is discarded, one with a duplicate
// key keeps its leftmost entry; the sampled and random flags are kept and
// reserved flags ignored. trace.TraceState still enforces the older key
// grammar, so entries it cannot hold are kept in the context beside the
// remote span context and Inject sends them on, unchanged, for that trace.
//
// # Baggage policy
//
// Inbound baggage passes the ingress policy: WithIngressAllow,
// WithIngressPrefixes and WithIngressDeny for trusted callers; at a public
// endpoint (WithPublicEndpoint for every request, ContextWithPublicEndpoint
// per request) only the keys of WithPublicAllow. Then come
// the limits: WithMaxMembers, WithMaxBytes and WithMaxMemberBytes, where the
// W3C minimums of 64 members and 8192 bytes are the defaults and the floor.
// The work of an Extract is bounded by them, not by what was sent: baggage
// headers longer in all than four times WithMaxBytes are dropped unread, and
// a member that could not fit WithMaxMemberBytes however it is encoded is
// dropped before it is decoded. Headers of older systems can be mapped to baggage keys with
// WithLegacyHeader. The result is merged with the baggage already in the
// context (WithMerge) and read as usual with baggage.FromContext.
//
// Outbound baggage goes only where the egress rules send it (WithEgress).
// A carrier does not say where it goes, so Inject writes only what every
// destination is granted ("*" rules). NewTransport, innermost in an HTTP
// client, writes each request's baggage again, for the host of its URL, as
// the request leaves: every redirect and every copy a RoundTripper sends
// elsewhere goes through it. InjectBaggage does the same where other
// transports write a message for its destination. By default no baggage
// leaves the process; the trace context always does.
//
// Members are considered in a fixed order (header order inbound, key order
// outbound), so what the limits drop never depends on map iteration order.
//
// # Repeated input
//
// A service sees the same baggage and tracestate over and over: one header
// on every request of a session, one request's baggage on each of its
// outbound calls. Extract remembers the baggage.Baggage and trace.TraceState
// it built for recent header values in small fixed-size caches (256 entries
// each, values up to 1 KiB). A repeat then costs a hash and a compare;
// input that never repeats costs one more allocation per call. The policy
// and limits are applied, and drops counted, on every call all the same.
// Inject caches nothing: it looks the granted keys up in the baggage rather
// than listing and sorting its members.
//
// # Errors and telemetry
//
// Header values are untrusted input. Extract never panics on them; it
// allocates a small multiple of their size for values it copies or decodes,
// and for members a fixed amount that the limits bound.
// Malformed input and dropped members are counted by the
// otelctx.propagation.errors {error} and otelctx.baggage.dropped {member}
// counters, with a "reason" attribute, on the MeterProvider of
// WithMeterProvider. Errors are also reported through otel.Handle, the
// first at once and then at most once a minute per reason, without quoting
// the input. WithDebugDrops logs
// each dropped member, with the rule that was missing, at debug level.
package propagator
