package loaders

import "encoding/json"

// encodeDoc encodes a cached document as the cache stores it.
func encodeDoc[T any](v *T) ([]byte, error) { return json.Marshal(v) }

// decodeDoc decodes a cached document into v.
func decodeDoc[T any](data []byte, v *T) error { return json.Unmarshal(data, v) }
