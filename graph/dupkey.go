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
		keys    [][]byte // an object's keys so far, raw or unescaped
		wantKey bool     // the next string is a key
	}
	var buf [8]container
	stack := buf[:0]
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{':
			stack = append(stack, container{object: true, wantKey: true})
		case '[':
			stack = append(stack, container{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
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
				k := data[i+1 : end]
				if escaped {
					var s string
					if json.Unmarshal(data[i:end+1], &s) == nil {
						k = []byte(s)
					}
				}
				for _, seen := range stack[top].keys {
					if bytes.Equal(seen, k) {
						return string(k), true
					}
				}
				stack[top].keys = append(stack[top].keys, k)
				stack[top].wantKey = false
			}
			i = end
		}
	}
	return "", false
}
