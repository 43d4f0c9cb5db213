// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package twoservices

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/otelctx/otelctx/asynctrack"
	"github.com/otelctx/otelctx/baggagebridge"
	"github.com/otelctx/otelctx/examples/telemetry"
)

// GreetMethod is the full name of the greeter's one RPC, unary: it takes
// an empty message (the user comes as baggage) and answers a Greeting as a
// google.protobuf.Struct. The service is declared by hand (GreeterDesc), on
// well-known protobuf types, so that the example needs no generated code.
const GreetMethod = "/otelctx.examples.Greeter/Greet"

// Greeting is the greeter's answer.
type Greeting struct {
	// Text greets the user that the greeter's goroutine saw.
	Text string `json:"text"`
	// Seen is what the greeter's handler and its goroutine saw. Their
	// Session is 0: the frontend's session is a local value.
	Seen []Sighting `json:"seen"`
}

// greeterServer is the greeter's handler type.
type greeterServer interface {
	Greet(context.Context, *emptypb.Empty) (*structpb.Struct, error)
}

// GreeterDesc describes the greeter service for grpc.Server's
// RegisterService, with Greeter as its implementation.
var GreeterDesc = grpc.ServiceDesc{
	ServiceName: "otelctx.examples.Greeter",
	HandlerType: (*greeterServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Greet",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			greet := func(ctx context.Context, req any) (any, error) {
				return srv.(greeterServer).Greet(ctx, req.(*emptypb.Empty))
			}
			if interceptor == nil {
				return greet(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: GreetMethod}, greet)
		},
	}},
}

// Greeter is the gRPC service that the frontend calls beside the backend.
type Greeter struct{}

// Greet greets the current user, whom neither it nor its goroutine is
// handed: both read the RPC's baggage ambiently. Without a user in the
// baggage it fails with codes.Unauthenticated.
func (Greeter) Greet(ctx context.Context, _ *emptypb.Empty) (*structpb.Struct, error) {
	if _, ok := baggagebridge.Current(telemetry.UserKey); !ok {
		return nil, status.Error(codes.Unauthenticated, "no user in the baggage")
	}
	var seen sightings
	seen.see("greeter")
	var g Greeting
	done := make(chan struct{})
	asynctrack.Go(ctx, func(context.Context) {
		defer close(done)
		seen.see("greeter goroutine")
		user, _ := baggagebridge.Current(telemetry.UserKey)
		g.Text = "Hello, " + user + "!"
	})
	<-done
	g.Seen = seen.sorted()
	return toStruct(g)
}

// greet calls the greeter on cc.
func greet(ctx context.Context, cc grpc.ClientConnInterface) (Greeting, error) {
	out := new(structpb.Struct)
	var g Greeting
	if err := cc.Invoke(ctx, GreetMethod, &emptypb.Empty{}, out); err != nil {
		return g, err
	}
	return g, fromStruct(out, &g)
}

// toStruct and fromStruct convert between a Go value and a Struct through
// their common JSON form.
func toStruct(v any) (*structpb.Struct, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	s := new(structpb.Struct)
	return s, protojson.Unmarshal(b, s)
}

func fromStruct(s *structpb.Struct, v any) error {
	b, err := protojson.Marshal(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
