package graph

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"catalog-bff/store"
)

// Listing cursors are opaque to clients. Inside, a cursor is the listing key
// of the last product of a page, "c1:<created_at µs>:<id>", in unpadded
// base64url. Keys never change when products are inserted, so neither do
// pages already handed out.
const cursorTag = "c1:"

func encodeCursor(k store.ListingKey) string {
	s := cursorTag + strconv.FormatInt(k.CreatedAt.UnixMicro(), 10) + ":" + strconv.FormatInt(k.ID, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func decodeCursor(c string) (*store.ListingKey, error) {
	bad := store.Errorf(store.Invalid, "invalid cursor in after: %q does not come from this API", c)
	if len(c) > 64 {
		bad.Message = "invalid cursor in after: too long to come from this API"
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorTag) {
		return nil, bad
	}
	at, id, ok := strings.Cut(strings.TrimPrefix(string(b), cursorTag), ":")
	if !ok {
		return nil, bad
	}
	us, err1 := strconv.ParseInt(at, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return nil, bad
	}
	return &store.ListingKey{CreatedAt: time.UnixMicro(us).UTC(), ID: n}, nil
}
