// Package playground serves GraphiQL from the service itself: the page, its
// scripts, styles, fonts and Monaco workers are built from npm packages
// (package.json and package-lock.json beside this file) into dist/ and
// embedded in the binary, so the playground needs no internet access and runs
// under a strict Content-Security-Policy.
//
// dist/ is committed, so that `go run .` needs nothing but Go. After a
// change to the source or the lockfile, rebuild it and commit the result
// (CI rebuilds it and fails when it differs from what is committed):
//
//	cd internal/playground && npm ci && npm run build
package playground

import (
	"embed"
	"errors"
	"html"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
)

// dist holds the built bundle, committed.
//
//go:embed all:dist
var dist embed.FS

// AssetPrefix is the path under which Handler serves the bundle's files. The
// bundle is built with it as its base (vite.config.js): change both together.
const AssetPrefix = "/playground/"

// ContentSecurityPolicy is sent with the page and with every file of the
// bundle. Scripts, workers and requests stay on the service's own origin.
// Two allowances are what GraphiQL 5 needs to render, found by removing them
// and running the browser test (with a misspelt field, for Monaco's error
// underlines): 'unsafe-inline' styles (Monaco sets style attributes and
// inserts <style> elements at run time) and data: fonts and images
// (GraphiQL's stylesheet embeds its fonts, and Monaco's its error
// underlines, as data: URIs). Scripts get no 'unsafe-inline' and no
// 'unsafe-eval'.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; worker-src 'self'; " +
	"connect-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; " +
	"img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'"

// endpointPlaceholder is the content of index.html's graphql-endpoint meta
// tag until Handler puts the endpoint there.
const endpointPlaceholder = "__GRAPHQL_ENDPOINT__"

// Handler serves the playground page, pointed at endpoint, for every path
// outside AssetPrefix, and the bundle's files under AssetPrefix: mount it at
// the page's path and at AssetPrefix. The handler is safe for concurrent
// use.
func Handler(endpoint string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	files, _ := fs.Sub(dist, "dist") // cannot fail: "dist" is a valid path
	return newHandler(files, endpoint, log)
}

// newHandler is Handler over the bundle files, whose root holds index.html.
func newHandler(files fs.FS, endpoint string, log *slog.Logger) http.Handler {
	page, err := fs.ReadFile(files, "index.html")
	if err == nil && strings.Count(string(page), endpointPlaceholder) != 1 {
		err = errors.New("index.html has no endpoint placeholder " + endpointPlaceholder)
	}
	if err != nil {
		// Only a bundle edited by hand gets here: its test fails first.
		log.Error("playground bundle broken; rebuild it", "err", err,
			"build", "cd internal/playground && npm ci && npm run build")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secure(w.Header())
			http.Error(w, "playground bundle broken", http.StatusInternalServerError)
		})
	}
	page = []byte(strings.Replace(string(page), endpointPlaceholder, html.EscapeString(endpoint), 1))
	return &handler{page: page, assets: newAssets(files)}
}

// handler serves the embedded bundle.
type handler struct {
	page   []byte
	assets *assets
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secure(w.Header())
	if name, ok := strings.CutPrefix(r.URL.Path, AssetPrefix); ok {
		h.assets.serve(w, r, name)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(h.page)
}

// secure sets the headers that every response of the playground carries.
func secure(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}
