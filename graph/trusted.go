package graph

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"

	"catalog-bff/internal/reqlog"
)

// Trusted documents (persisted operations): a frontend's build extracts
// every operation it sends into a manifest, the service loads the manifest,
// and clients send an operation's id instead of its text. In "require" mode
// nothing else runs, which closes the API to operations no build shipped.

// The codes of requests refused for their document, each with status 400.
const (
	// CodeDocumentNotTrusted: require mode, and the operation's text is
	// not in the manifest.
	CodeDocumentNotTrusted = "DOCUMENT_NOT_TRUSTED"
	// CodeDocumentNotFound: a documentId the manifest does not have.
	CodeDocumentNotFound = "DOCUMENT_NOT_FOUND"
)

// TrustMode says which documents the service runs.
type TrustMode string

// The trust modes.
const (
	// TrustOff ignores the manifest: documentId is not understood.
	TrustOff TrustMode = "off"
	// TrustAllow runs the manifest's documents by id, and any other
	// document sent as text.
	TrustAllow TrustMode = "allow"
	// TrustRequire runs only the manifest's documents, by id or by text.
	TrustRequire TrustMode = "require"
)

// ParseTrustMode reads a TRUSTED_DOCUMENTS value.
func ParseTrustMode(s string) (TrustMode, error) {
	switch m := TrustMode(s); m {
	case TrustOff, TrustAllow, TrustRequire:
		return m, nil
	}
	return "", fmt.Errorf("%q is not off, allow or require", s)
}

// TrustedDocuments holds the manifest and checks requests against it. It
// is safe for concurrent use; Reload swaps the manifest under load.
type TrustedDocuments struct {
	mode TrustMode
	path string
	log  *slog.Logger
	docs atomic.Pointer[map[string]string] // SHA-256 in hex → document
}

// NewTrustedDocuments loads the manifest at path, in either of the formats
// parseManifest reads. Mode off needs no manifest.
func NewTrustedDocuments(mode TrustMode, path string, log *slog.Logger) (*TrustedDocuments, error) {
	t := &TrustedDocuments{mode: mode, path: path, log: log}
	if mode == TrustOff {
		return t, nil
	}
	if path == "" {
		return nil, fmt.Errorf("trusted documents %s needs a manifest file", mode)
	}
	docs, err := loadManifest(path)
	if err != nil {
		return nil, err
	}
	t.docs.Store(&docs)
	return t, nil
}

// Reload reads the manifest again. A manifest that does not load leaves
// the one in use in place, and the error is logged and returned.
func (t *TrustedDocuments) Reload() error {
	if t.mode == TrustOff {
		return nil
	}
	docs, err := loadManifest(t.path)
	if err != nil {
		t.log.Error("trusted documents: manifest not reloaded; keeping the one in use", "file", t.path, "err", err)
		return err
	}
	t.docs.Store(&docs)
	t.log.Info("trusted documents: manifest reloaded", "file", t.path, "documents", len(docs))
	return nil
}

// Len returns the number of documents in the manifest in use.
func (t *TrustedDocuments) Len() int {
	if d := t.docs.Load(); d != nil {
		return len(*d)
	}
	return 0
}

// loadManifest reads and parses a manifest file.
func loadManifest(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted documents: %w", err)
	}
	docs, err := parseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("trusted documents: %s: %w", path, err)
	}
	return docs, nil
}

// apolloManifest is Apollo's persisted query manifest.
type apolloManifest struct {
	Format     string `json:"format"`
	Version    int    `json:"version"`
	Operations []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
		Body string `json:"body"`
	} `json:"operations"`
}

// parseManifest reads Apollo's persisted query manifest ({"format":
// "apollo-persisted-query-manifest", "operations": [{"id", "body"…}]}) or
// GraphQL Code Generator's client-preset persisted documents ({"<sha256>":
// "<document>"}). Every id must be the SHA-256 of its document, in hex,
// with or without a "sha256:" prefix; the map is keyed without it.
func parseManifest(data []byte) (map[string]string, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, errors.New("not a JSON object")
	}
	docs := map[string]string{}
	if _, apollo := probe["format"]; apollo {
		var m apolloManifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("not an Apollo persisted query manifest: %w", err)
		}
		if m.Format != "apollo-persisted-query-manifest" || m.Version != 1 {
			return nil, fmt.Errorf("format %q version %d: want apollo-persisted-query-manifest version 1", m.Format, m.Version)
		}
		for _, op := range m.Operations {
			docs[op.ID] = op.Body
		}
	} else {
		for id, raw := range probe {
			var doc string
			if err := json.Unmarshal(raw, &doc); err != nil {
				return nil, fmt.Errorf("document %q is not a string", id)
			}
			docs[id] = doc
		}
	}
	if len(docs) == 0 {
		return nil, errors.New("no documents")
	}
	byHash := make(map[string]string, len(docs))
	for id, doc := range docs {
		if strings.TrimPrefix(id, "sha256:") != hashOf(doc) {
			return nil, fmt.Errorf("id %q is not the SHA-256 of its document", id)
		}
		byHash[hashOf(doc)] = doc
	}
	return byHash, nil
}

// hashOf is a document's id: its SHA-256 in lowercase hex.
func hashOf(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// Middleware runs after guard. A request that names a document by id
// (documentId, or the sha256Hash of a persisted query) that the manifest
// has goes on with the document's text, as if it had sent it; with mode
// require, a request whose text is not in the manifest is refused before
// anything parses it. Either way the request's log lines carry the
// document's id.
func (t *TrustedDocuments) Middleware(next http.Handler) http.Handler {
	if t.mode == TrustOff {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := paramsOf(r.Context())
		if p == nil {
			next.ServeHTTP(w, r)
			return
		}
		docs := *t.docs.Load()
		id, explicit := documentID(r, p)
		if p.Query != "" {
			if h := hashOf(p.Query); id == "" || h == id {
				id = h
			} else if explicit {
				writeError(w, http.StatusBadRequest, CodeBadRequest, "documentId is not the SHA-256 of the query sent with it")
				return
			}
		}
		doc, trusted := docs[id]
		switch {
		case trusted && p.Query == "":
			var err error
			if r, err = withDocument(r, p, doc); err != nil {
				writeError(w, http.StatusBadRequest, CodeBadRequest, "the request could not be rewritten")
				return
			}
		case trusted:
		case explicit:
			writeError(w, http.StatusBadRequest, CodeDocumentNotFound,
				"no trusted document has this documentId; the manifest may be older than the client")
			return
		case t.mode == TrustRequire:
			writeError(w, http.StatusBadRequest, CodeDocumentNotTrusted,
				"this service runs only the operations of its trusted documents manifest: send one by its documentId")
			return
		default: // allow: any text, or a persisted query the APQ store may have
			next.ServeHTTP(w, r)
			return
		}
		reqlog.Annotate(r.Context(), slog.String("document_id", id))
		next.ServeHTTP(w, r)
	})
}

// documentID returns the id a request names its document by: documentId
// (explicit), else the persisted query's hash.
func documentID(r *http.Request, p *graphql.RawParams) (id string, explicit bool) {
	if r.Method == http.MethodGet {
		id = r.URL.Query().Get("documentId")
	} else if r.Body != nil {
		body, _ := io.ReadAll(r.Body) // guard left it in memory
		r.Body = io.NopCloser(bytes.NewReader(body))
		var v struct {
			DocumentID string `json:"documentId"`
		}
		if bytes.Contains(body, []byte(`"documentId"`)) && json.Unmarshal(body, &v) == nil {
			id = v.DocumentID
		}
	}
	if id != "" {
		return strings.TrimPrefix(id, "sha256:"), true
	}
	m, _ := p.Extensions["persistedQuery"].(map[string]any)
	h, _ := m["sha256Hash"].(string)
	return strings.TrimPrefix(h, "sha256:"), false
}

// withDocument returns r carrying doc as its query, for gqlgen's
// transports and for the middlewares after this one. A persisted query's
// extension goes: the text is here.
func withDocument(r *http.Request, p *graphql.RawParams, doc string) (*http.Request, error) {
	np := *p
	np.Query = doc
	if _, ok := np.Extensions["persistedQuery"]; ok {
		np.Extensions = maps.Clone(np.Extensions)
		delete(np.Extensions, "persistedQuery")
	}
	return withParamsOf(r, &np)
}
