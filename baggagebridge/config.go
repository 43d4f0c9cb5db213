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

// config is what Middleware, NewSpanProcessor and NewLogHandler are built
// from. Each reads the part that concerns it.
type config struct {
	propagator propagation.TextMapPropagator

	// Which values enrich telemetry, and how they appear.
	keys       []string
	prefixes   []string
	attrPrefix string
	redacted   []string
	hashed     []string
	secret     []byte
	maxAttrs   int

	labelKeys []string
}

// newConfig returns the configuration built from the documented defaults and
// opts, applied in order:
//
//   - propagator: otel.GetTextMapPropagator();
//   - every baggage member is selected, under its own key;
//   - nothing is redacted or hashed;
//   - at most 64 values per span or log record;
//   - no profile labels.
func newConfig(opts ...Option) config {
	c := config{maxAttrs: defaultMaxAttributes}
	for _, o := range opts {
		c = o.apply(c)
	}
	if c.propagator == nil {
		c.propagator = otel.GetTextMapPropagator()
	}
	return c
}

// Option configures Middleware, NewSpanProcessor and NewLogHandler. Each
// option says which of them it applies to; the others ignore it.
type Option interface {
	apply(config) config
}

type optionFunc func(config) config

func (f optionFunc) apply(c config) config { return f(c) }

// WithPropagator sets the propagator Middleware extracts inbound values
// with. It is the propagator's policy, not the middleware, that decides
// which inbound headers to trust. The default is otel.GetTextMapPropagator().
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c config) config {
		c.propagator = p
		return c
	})
}

// WithKeys selects the baggage keys given, matched exactly, to enrich spans
// and log records, in addition to those of WithKeyPrefixes. Without either
// option every key is selected. It applies to NewSpanProcessor,
// NewLogHandler and the live view of Middleware's requests.
func WithKeys(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.keys = append(c.keys[:len(c.keys):len(c.keys)], keys...)
		return c
	})
}

// WithKeyPrefixes selects the baggage keys that start with one of prefixes,
// in addition to those of WithKeys. It applies to NewSpanProcessor,
// NewLogHandler and the live view of Middleware's requests.
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
// profile labels and the live view: equal values still group together, and they cannot be
// read back without the secret. With an empty secret it is a plain SHA-256,
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

// WithProfileLabels makes Middleware label each request's goroutines with
// the values of the baggage keys given, as pprof labels, so that CPU and
// goroutine profiles group by them. Label keys and values are made as for
// spans (WithAttributePrefix, WithRedacted, WithHashed). Every distinct
// value is a distinct profile sample key: choose keys of low cardinality.
func WithProfileLabels(keys ...string) Option {
	return optionFunc(func(c config) config {
		c.labelKeys = append(c.labelKeys[:len(c.labelKeys):len(c.labelKeys)], keys...)
		return c
	})
}
