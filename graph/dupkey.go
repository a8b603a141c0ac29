package graph

import (
	"bytes"
	"encoding/json"
)

// duplicateKey returns a key that appears twice in one object of data, a
// JSON text, at any depth. On text that is not well-formed it returns
// whatever it found, and never panics. encoding/json keeps the last of two
// keys, so a body with two "query" members would run the second while
// anything that reads the first (a log, a proxy's allow-list) sees a
// harmless one: such a body is refused. It allocates only for keys with
// escapes.
func duplicateKey(data []byte) (key string, found bool) {
	type container struct {
		object  bool
		first   int  // the index in keys of its first key
		wantKey bool // the next string is a key
	}
	// The keys of the open objects, outermost first: an object's own are
	// keys[first:] while it is the innermost. Both stacks start on the
	// goroutine's stack; a request body rarely outgrows them.
	var cbuf [8]container
	var kbuf [32][]byte
	stack, keys := cbuf[:0], kbuf[:0]
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			stack = append(stack, container{object: true, first: len(keys), wantKey: true})
		case '[':
			stack = append(stack, container{first: len(keys)})
		case '}', ']':
			if n := len(stack); n > 0 {
				keys = keys[:stack[n-1].first]
				stack = stack[:n-1]
			}
		case ',':
			if top := len(stack) - 1; top >= 0 && stack[top].object {
				stack[top].wantKey = true
			}
		case '"':
			end, escaped := i+1, false
			for ; end < len(data) && data[end] != '"'; end++ {
				if data[end] == '\\' {
					escaped = true
					end++
				}
			}
			top := len(stack) - 1
			if top >= 0 && stack[top].wantKey {
				k := data[i+1 : min(end, len(data))]
				if escaped {
					var s string
					if json.Unmarshal(data[i:min(end+1, len(data))], &s) == nil {
						k = []byte(s)
					}
				}
				for _, seen := range keys[stack[top].first:] {
					if bytes.Equal(seen, k) {
						return string(k), true
					}
				}
				keys = append(keys, k)
				stack[top].wantKey = false
			}
			i = end
		}
	}
	return "", false
}
