// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

// Package token validates RFC 9110 tokens: the grammar of W3C Baggage keys
// and property keys, shared by the propagator and the bridge.
package token

// chars marks tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110, 5.6.2).
var chars = func() (t [256]bool) {
	for _, c := range []byte("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		t[c] = true
	}
	return t
}()

// Valid reports whether s is a non-empty token.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !chars[s[i]] {
			return false
		}
	}
	return true
}
