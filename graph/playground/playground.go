// Package playground serves GraphiQL from the service itself: the page, its
// scripts, styles, fonts and Monaco workers are built from npm packages
// (package.json and package-lock.json beside this file) into dist/ and
// embedded in the binary, so the playground needs no internet access and runs
// under a strict Content-Security-Policy.
//
// Build the bundle before compiling the service:
//
//	cd graph/playground && npm ci && npm run build
//
// A binary compiled without it serves gqlgen's CDN playground instead and
// logs a warning once.
package playground

import (
	"embed"
	"html"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// dist holds the built bundle. dist/.keep is tracked so that this compiles
// before the first build; everything else in dist/ is build output.
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

// Bundled reports whether the bundle was built before this binary was
// compiled.
func Bundled() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

// Handler serves the playground page, pointed at endpoint, for every path
// outside AssetPrefix, and the bundle's files under AssetPrefix: mount it at
// the page's path and at AssetPrefix. Without a built bundle it serves
// gqlgen's playground, which loads GraphiQL from public CDNs, logs a warning
// saying so, and answers 404 under AssetPrefix. The handler is safe for
// concurrent use.
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
		log.Error("playground bundle has no endpoint placeholder; rebuild it", "placeholder", endpointPlaceholder)
		err = fs.ErrInvalid
	}
	if err != nil {
		log.Warn("playground bundle not built: serving GraphiQL from public CDNs, which needs internet access",
			"build", "cd graph/playground && npm ci && npm run build")
		return cdnFallback(endpoint)
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

// cdnFallback is gqlgen's CDN playground for the page, and 404 under
// AssetPrefix.
func cdnFallback(endpoint string) http.Handler {
	cdn := gqlplayground.Handler("catalog-bff", endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, AssetPrefix) {
			http.NotFound(w, r)
			return
		}
		cdn.ServeHTTP(w, r)
	})
}
