// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package telemetry is the OpenTelemetry setup that every example shares:
// the otelctx propagator with the examples' trust policy, a TracerProvider
// per service with the bridge's span processor, otelhttp on both sides of
// every HTTP call, otelgrpc and otelctxgrpc on both sides of every RPC, and
// the exporter of async-resource spans.
//
// Spans go to an in-memory Window of the most recent ones by default, so
// that the examples need no outside server and run as services in flat
// memory (see Sink). When the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT variable is set, they are exported over
// OTLP/HTTP instead, configured by the standard OTEL_EXPORTER_OTLP_*
// variables.
package telemetry

import (
	"context"
	"errors"
	"net/http"
	"os"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/exporter"
	"github.com/otelctx/otelctx/otelctxgrpc"
	"github.com/otelctx/otelctx/propagator"
)

// UserKey is the baggage key of the user ID.
const UserKey = "user.id"

// LegacyUserHeader is the seed service's header for the user ID; the
// propagator maps it to UserKey.
const LegacyUserHeader = "userid"

// Propagator returns the otelctx propagator with the examples' trust
// policy:
//
//   - inbound, only UserKey is accepted, from the baggage header or from the
//     legacy userid header (the baggage header wins when both carry it);
//     every other baggage key is dropped;
//   - outbound, UserKey is sent only to the hosts given (as "host" or
//     "host:port"); no baggage goes anywhere else;
//   - the trace context flows in and out everywhere.
//
// A real edge service would take the user from its authentication, not
// from a header; the seed service trusts the header, and so do the
// examples.
func Propagator(internalHosts ...string) propagation.TextMapPropagator {
	return propagator.New(
		propagator.WithIngressAllow(UserKey),
		propagator.WithLegacyHeader(LegacyUserHeader, UserKey),
		propagator.WithEgress(propagator.EgressRule{Hosts: internalHosts, Keys: []string{UserKey}}),
	)
}

// Recorder is a span processor that keeps ended spans for reading back, as
// tracetest.SpanRecorder (which keeps them all: for tests) and Window (which
// keeps the most recent) do.
type Recorder interface {
	sdktrace.SpanProcessor
	Ended() []sdktrace.ReadOnlySpan
}

// Sink is where the spans of one process go: a Recorder, an OTLP exporter
// per service, or both.
type Sink struct {
	// Recorder, if not nil, receives every span of the process.
	Recorder Recorder
	// Exporter, if not nil, makes the exporter of one service; each
	// service's TracerProvider shuts its own down.
	Exporter func(context.Context) (sdktrace.SpanExporter, error)
	// Endpoint says where Exporter exports, for people.
	Endpoint string
}

// NewSink returns the sink the environment asks for: an OTLP/HTTP exporter
// configured by the standard OTEL_EXPORTER_OTLP_* variables if the endpoint
// is set, else a Window of the WindowSpans most recent spans.
func NewSink() *Sink {
	for _, env := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if e := os.Getenv(env); e != "" {
			return &Sink{Endpoint: e, Exporter: func(ctx context.Context) (sdktrace.SpanExporter, error) {
				return otlptracehttp.New(ctx)
			}}
		}
	}
	return &Sink{Recorder: NewWindow(WindowSpans)}
}

// options returns the TracerProvider options that send one service's spans
// to the sink.
func (s *Sink) options(ctx context.Context) ([]sdktrace.TracerProviderOption, error) {
	// The bridge adds the request values to the spans each processor
	// exports, as they are exported.
	var opts []sdktrace.TracerProviderOption
	if s.Recorder != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(s.Recorder)))
	}
	if s.Exporter != nil {
		exp, err := s.Exporter(ctx)
		if err != nil {
			return nil, err
		}
		opts = append(opts, sdktrace.WithSpanProcessor(baggagebridge.WrapSpanProcessor(sdktrace.NewBatchSpanProcessor(exp))))
	}
	return opts, nil
}

// Service is the instrumentation of one service.
type Service struct {
	Name           string
	TracerProvider *sdktrace.TracerProvider
	// Ambient is TracerProvider through baggagebridge.AmbientTracerProvider,
	// for code that drops its ctx: its spans join their request's trace.
	Ambient    trace.TracerProvider
	Propagator propagation.TextMapPropagator
	transport  *http.Transport
}

// NewService returns the instrumentation of the service name, whose spans
// go to sink and whose calls follow the policy of p.
func NewService(ctx context.Context, name string, sink *Sink, p propagation.TextMapPropagator) (*Service, error) {
	sinks, err := sink.options(ctx)
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(append([]sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
	}, sinks...)...)
	return &Service{
		Name:           name,
		TracerProvider: tp,
		Ambient:        baggagebridge.AmbientTracerProvider(tp),
		Propagator:     p,
		transport:      &http.Transport{MaxIdleConnsPerHost: 64},
	}, nil
}

// Handler instruments h: otelhttp starts the server span from the inbound
// trace context and the baggage that the propagator's policy lets in, then
// the bridge middleware runs the request in an asynctrack resource of type
// "http.request", so that its values are seen by every goroutine, task and
// timer it starts, and by code that takes no ctx.
//
// Instrument each route of a ServeMux (mux.Handle(pattern, s.Handler(h)))
// rather than the mux: then otelhttp names the span after the route.
func (s *Service) Handler(h http.Handler) http.Handler {
	return otelhttp.NewHandler(baggagebridge.Middleware(baggagebridge.WithPropagators(s.Propagator))(h), s.Name,
		otelhttp.WithTracerProvider(s.TracerProvider),
		otelhttp.WithPropagators(s.Propagator),
	)
}

// Client returns a client whose calls are client spans and carry the trace
// context, and the baggage that the policy sends to their destination.
// propagator.NewTransport, innermost, writes each request's baggage for the
// host it is sent to, with the service's rules.
func (s *Service) Client() *http.Client {
	return &http.Client{Transport: otelhttp.NewTransport(propagator.NewTransport(s.transport, s.Propagator),
		otelhttp.WithTracerProvider(s.TracerProvider),
		otelhttp.WithPropagators(s.Propagator),
	)}
}

// GRPCServerOptions returns the options of a gRPC server of the service:
// otelctxgrpc's first, which extract each RPC's trace context and the
// baggage the propagator's policy lets in and run the RPC in an asynctrack
// resource of type "grpc.request", then otelgrpc's server span, started
// from what otelctxgrpc extracted. The handler and everything it starts see
// the RPC's values, ambiently too, as an HTTP handler under Handler does.
func (s *Service) GRPCServerOptions() []grpc.ServerOption {
	return append(otelctxgrpc.ServerOptions(otelctxgrpc.WithPropagators(s.Propagator)),
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(s.TracerProvider),
			otelgrpc.WithPropagators(s.Propagator),
		)))
}

// GRPCDialOptions returns the options of a gRPC client of the service, for
// otelctxgrpc.NewClient: each
// RPC is a client span and carries the trace context, and the baggage that
// the policy sends to the ClientConn's target (host:port for the examples'
// loopback targets), written by otelctxgrpc after otelgrpc's handler. The
// examples' RPCs stay on loopback and are not encrypted.
func (s *Service) GRPCDialOptions() []grpc.DialOption {
	return append(otelctxgrpc.DialOptions(s.Propagator, otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(s.TracerProvider),
		otelgrpc.WithPropagators(s.Propagator),
	)),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
}

// CloseIdleConnections closes the idle connections of the service's
// clients. A server shutting down waits up to five seconds for a
// connection that has not sent a request yet, as a client's may be: close
// them before shutting down the servers they are connected to.
func (s *Service) CloseIdleConnections() { s.transport.CloseIdleConnections() }

// Shutdown flushes and stops the service's TracerProvider and closes the
// client's idle connections.
func (s *Service) Shutdown(ctx context.Context) error {
	s.CloseIdleConnections()
	return s.TracerProvider.Shutdown(ctx)
}

// AsyncSpanTypes are the resource types the examples show as spans.
var AsyncSpanTypes = []string{asynctrack.TypeGoroutine, asynctrack.TypeTask, asynctrack.TypeTimer}

// NewAsyncExporter starts the process's exporter of async-resource spans
// (one per process: it listens to every resource). Each span goes to the
// TracerProvider of the span it is a child of, so that in a process that
// runs several services, as the examples do, the goroutines of each service
// are in that service's traces. A process of one service would pass its own
// TracerProvider with exporter.WithTracerProvider.
func NewAsyncExporter() *exporter.Instrumentation {
	return exporter.NewInstrumentation(
		exporter.WithTracerProvider(parentProvider{}),
		exporter.WithSpanTypes(AsyncSpanTypes...),
	)
}

// ShutdownAll shuts the exporter down, then the services, and joins the
// errors.
func ShutdownAll(ctx context.Context, exp *exporter.Instrumentation, services ...*Service) error {
	err := exp.Shutdown(ctx)
	for _, s := range services {
		err = errors.Join(err, s.Shutdown(ctx))
	}
	return err
}
