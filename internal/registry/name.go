// Copyright The otelctx Authors
// SPDX-License-Identifier: Apache-2.0

package registry

import (
	"reflect"
	"runtime"
	"strings"
	"sync"
)

// maxNameLen bounds the names Name returns.
const maxNameLen = 64

// Name returns a readable name for a resource value as
// asynctrack.HookFuncs.Init receives it, of bounded length and cardinality,
// for span names and debug pages: for a callback, its function's name
// without the module path ("main.handler.func1", "cache.(*Cache).refresh");
// for a string, the string cut at 64 bytes; for any other value, its type; "" for nil.
// Strings come from the code that creates resources, not from requests: a
// resource value made of request data gives names of unbounded cardinality.
func Name(resource any) string {
	switch v := resource.(type) {
	case nil:
		return ""
	case string:
		return truncateName(v)
	}
	rv := reflect.ValueOf(resource)
	if rv.Kind() != reflect.Func || rv.IsNil() {
		return truncateName(rv.Type().String())
	}
	pc := rv.Pointer()
	if name, ok := funcNames.Load(pc); ok {
		return name.(string)
	}
	name := "func"
	if fn := runtime.FuncForPC(pc); fn != nil {
		name = shortFuncName(fn.Name())
	}
	funcNames.Store(pc, name)
	return name
}

// funcNames caches Name's function names by entry PC: a program has
// finitely many.
var funcNames sync.Map

// shortFuncName drops the package path of a function's full name:
// "github.com/x/y/pkg.(*T).m.func1" becomes "pkg.(*T).m.func1".
func shortFuncName(full string) string {
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		full = full[i+1:]
	}
	return truncateName(full)
}

func truncateName(s string) string {
	if len(s) <= maxNameLen {
		return s
	}
	// Cut on a rune boundary.
	cut := maxNameLen
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
