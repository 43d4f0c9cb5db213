// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package baggagebridge

import (
	"fmt"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/otelctx/otelctx/internal/w3cbaggage"
)

// defaultMaxAttributes is the W3C Baggage member limit: every member of a
// baggage that keeps to the specification fits.
const defaultMaxAttributes = w3cbaggage.MaxMembers

// config is what the span and log processors, NewLogHandler and Middleware
// select and show values by.
type config struct {
	keys       []string
	prefixes   []string
	attrPrefix string
	redacted   []string
	hashed     []string
	secret     []byte
	maxAttrs   int
}

// newConfig returns the configuration built from the documented defaults and
// opts, applied in order:
//
//   - every baggage member is selected, under its own key;
//   - nothing is redacted or hashed;
//   - at most 64 values per span or log record.
func newConfig(opts ...Option) config {
	c := config{maxAttrs: defaultMaxAttributes}
	for _, o := range opts {
		if o != nil {
			c = o.apply(c)
		}
	}
	return c
}

// Option selects the baggage values that enrich telemetry and says how they
// appear. Every Option applies to everything that takes one:
// NewSpanProcessor, WrapSpanProcessor, NewLogProcessor, NewLogHandler and,
// being a MiddlewareOption too, Middleware (its profile labels and the
// exporter's live view of its requests). A nil Option is ignored.
type Option interface {
	MiddlewareOption
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

func (f optionFunc) applyMiddleware(c middlewareConfig) middlewareConfig {
	c.config = f(c.config)
	return c
}

// middlewareConfig is what Middleware is built from.
type middlewareConfig struct {
	config
	propagator propagation.TextMapPropagator
	labelKeys  []string
}

// MiddlewareOption configures Middleware. The Options, which Middleware
// accepts too, say how it shows values (profile labels, the live view);
// WithPropagators and WithProfileLabels configure Middleware only, and no
// other constructor accepts them. A nil MiddlewareOption is ignored.
type MiddlewareOption interface {
	applyMiddleware(middlewareConfig) middlewareConfig
}

type middlewareOptionFunc func(middlewareConfig) middlewareConfig

func (f middlewareOptionFunc) applyMiddleware(c middlewareConfig) middlewareConfig { return f(c) }

// newMiddlewareConfig returns the configuration built from the documented
// defaults and opts, applied in order: those of newConfig, the propagator
// otel.GetTextMapPropagator(), and no profile labels.
func newMiddlewareConfig(opts ...MiddlewareOption) middlewareConfig {
	c := middlewareConfig{config: newConfig()}
	for _, o := range opts {
		if o != nil {
			c = o.applyMiddleware(c)
		}
	}
	if c.propagator == nil {
		c.propagator = otel.GetTextMapPropagator()
	}
	return c
}

// WithPropagators sets the propagator Middleware extracts inbound values
// with, as otelhttp.WithPropagators does for otelhttp. It is the
// propagator's policy, not the middleware, that decides which inbound
// headers to trust. The default, and what a nil p means, is
// otel.GetTextMapPropagator() at the time Middleware is called.
func WithPropagators(p propagation.TextMapPropagator) MiddlewareOption {
	return middlewareOptionFunc(func(c middlewareConfig) middlewareConfig {
		c.propagator = p
		return c
	})
}

// WithProfileLabels makes Middleware label each request's goroutines with
// the values of the baggage keys given, as pprof labels, so that CPU and
// goroutine profiles group by them. Label keys and values are made as for
// spans, by the Options given to Middleware (WithAttributePrefix,
// WithRedacted, WithHashed). Every distinct value is a distinct profile
// sample key: choose keys of low cardinality.
func WithProfileLabels(keys ...string) MiddlewareOption {
	keys = append([]string(nil), keys...)
	return middlewareOptionFunc(func(c middlewareConfig) middlewareConfig {
		c.labelKeys = append(c.labelKeys[:len(c.labelKeys):len(c.labelKeys)], keys...)
		return c
	})
}

// WithKeys selects the baggage keys given, matched exactly, to enrich spans
// and log records, in addition to those of WithKeyPrefixes. Without either
// option every key is selected.
func WithKeys(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.keys = append(c.keys[:len(c.keys):len(c.keys)], keys...)
		return c
	})
}

// WithKeyPrefixes selects the baggage keys that start with one of prefixes,
// in addition to those of WithKeys.
func WithKeyPrefixes(prefixes ...string) Option {
	return optionFunc(func(c config) config {
		c.prefixes = append(c.prefixes[:len(c.prefixes):len(c.prefixes)], prefixes...)
		return c
	})
}

// WithAttributePrefix puts prefix before a baggage key to make the
// attribute key of its value on spans, log records, profile labels and
// the live view. The default is no prefix.
func WithAttributePrefix(prefix string) Option {
	return optionFunc(func(c config) config {
		c.attrPrefix = prefix
		return c
	})
}

// WithRedacted replaces the values of the keys given with "REDACTED" on
// spans, log records, profile labels and the live view: they show that the
// key was there, not what it held. Redaction takes precedence over
// WithHashed.
func WithRedacted(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.redacted = append(c.redacted[:len(c.redacted):len(c.redacted)], keys...)
		return c
	})
}

// WithHashed replaces the values of the keys given with the first 16 bytes,
// in hex, of their HMAC-SHA-256 under secret, on spans, log records,
// profile labels and the live view: equal values still group together,
// and they cannot be read back without the secret. With an empty secret it is a plain SHA-256,
// which anyone can reverse for guessable values such as user IDs. Each call
// sets the secret for all hashed keys.
func WithHashed(secret []byte, keys ...string) Option {
	secret = append([]byte(nil), secret...)
	return optionFunc(func(c config) config {
		c.hashed = append(c.hashed[:len(c.hashed):len(c.hashed)], keys...)
		c.secret = secret
		return c
	})
}

// WithMaxAttributes caps the selected values added to one span or log
// record at n; when more are selected, those with the lowest keys in byte
// order are kept. The default is 64, the W3C member limit. A negative n is
// reported through otel.Handle and ignored.
func WithMaxAttributes(n int) Option {
	return optionFunc(func(c config) config {
		if n < 0 {
			otel.Handle(fmt.Errorf("baggagebridge: WithMaxAttributes(%d) ignored: negative", n))
			return c
		}
		c.maxAttrs = n
		return c
	})
}
