package graph

import (
	"strings"
	"testing"
)

// Both manifest formats load; a manifest whose ids are not its documents'
// hashes, or that is not one of the formats, is refused with a reason.
func TestParseManifest(t *testing.T) {
	q, m := `query Detail($id: ID!) { product(id: $id) { id name } }`, `mutation { recordView(productId: "1") { hits } }`
	hq, hm := hashOf(q), hashOf(m)
	for _, tc := range []struct {
		name, manifest string
		want           map[string]string
		err            string
	}{
		{"GraphQL Code Generator's persisted documents",
			`{"` + hq + `": ` + quote(q) + `, "` + hm + `": ` + quote(m) + `}`, map[string]string{hq: q, hm: m}, ""},
		{"ids with the client preset's prefix",
			`{"sha256:` + hq + `": ` + quote(q) + `}`, map[string]string{hq: q}, ""},
		{"Apollo's persisted query manifest",
			`{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [` +
				`{"id": "` + hq + `", "name": "Detail", "type": "query", "body": ` + quote(q) + `}]}`, map[string]string{hq: q}, ""},
		{"an id that is not the document's hash", `{"` + hm + `": ` + quote(q) + `}`, nil, "not the SHA-256"},
		{"Apollo's format, another version", `{"format": "apollo-persisted-query-manifest", "version": 2, "operations": []}`, nil, "version 2"},
		{"no documents", `{}`, nil, "no documents"},
		{"a document that is not a string", `{"` + hq + `": 1}`, nil, "not a string"},
		{"not JSON", `query { x }`, nil, "not a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseManifest([]byte(tc.manifest))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %d documents, err %v; want %d", len(got), err, len(tc.want))
			}
			for id, doc := range tc.want {
				if got[id] != doc {
					t.Errorf("document %s = %q, want %q", id, got[id], doc)
				}
			}
		})
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
