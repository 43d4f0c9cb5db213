// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package otelctxgrpc carries otelctx request values and baggage policy
// across gRPC, beside otelgrpc: ServerOptions runs each RPC in an
// asynctrack resource of its own, with the values the propagator extracts
// from its metadata, and DialOptions writes each RPC's baggage for the
// target it is sent to, after otelgrpc's handler, so that egress rules
// grant baggage to gRPC targets as to HTTP hosts.
//
//	srv := grpc.NewServer(append(otelctxgrpc.ServerOptions(),
//		grpc.StatsHandler(otelgrpc.NewServerHandler()))...)
//
//	cc, err := grpc.NewClient(target, append(
//		otelctxgrpc.DialOptions(nil, otelgrpc.NewClientHandler()),
//		grpc.WithTransportCredentials(creds))...)
//
// It is a module of its own, as each otelgrpc-style instrumentation is, so
// that programs that use otelctx for HTTP only never build gRPC.
//
// gRPC starts long-lived goroutines (transport readers and writers,
// resolvers, balancers) from the RPC that first needs a connection.
// DialOptions starts RPCs outside every scope (asynctrack.Exit), so those
// goroutines carry no request's values; on the server, gRPC's own
// goroutines never run in an RPC's scope, which opens around the handler
// only.
package otelctxgrpc
