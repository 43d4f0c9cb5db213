// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package reqinfo is how the resource of a request describes the request to
// the exporter's live view, with neither baggagebridge nor the exporter
// importing the other: the resource value of each request that
// baggagebridge.Middleware serves is a Describer.
package reqinfo

// Describer is implemented by the resource value of a request.
type Describer interface {
	// DescribeRequest returns what the live view shows of the request. It
	// is called on the view's goroutine, while the request runs or after it
	// has ended, so it must be safe for concurrent use; it is called only
	// when a page is requested, so it may compute.
	DescribeRequest() Request
}

// Request is what the live view shows of a request.
type Request struct {
	// Method is the request's method.
	Method string
	// Route is the ServeMux pattern that serves the request, such as
	// "GET /profile", or "" if it is not known.
	Route string
	// Values are the request's baggage values that the middleware's
	// options select, redacted or hashed as they say, by key.
	Values []KeyValue
}

// KeyValue is one value of a request.
type KeyValue struct{ Key, Value string }
