package playground

import (
	"bytes"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// bundle is a stand-in for a build: the page with its placeholder, one
// script large enough to gain from gzip, and one font.
func bundle() fstest.MapFS {
	return fstest.MapFS{
		"index.html": {Data: []byte(`<meta name="graphql-endpoint" content="` + endpointPlaceholder +
			`" /><script type="module" src="/playground/assets/index-abc.js"></script>`)},
		"assets/index-abc.js":    {Data: bytes.Repeat([]byte("console.log('catalog');\n"), 200)},
		"assets/codicon-abc.ttf": {Data: []byte{0, 1, 0, 0, 0, 10}},
		".keep":                  {},
	}
}

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The page points at the endpoint, HTML-escaped, and carries the policy.
func TestPage(t *testing.T) {
	h := newHandler(bundle(), `/query?a=1&b="2"`, slog.New(slog.DiscardHandler))
	res := get(t, h, "/")
	page := body(t, res)
	if res.StatusCode != 200 || !strings.Contains(page, `content="/query?a=1&amp;b=&#34;2&#34;"`) {
		t.Errorf("page: %d %s", res.StatusCode, page)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-cache",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(ContentSecurityPolicy, "script-src 'self';") {
		t.Errorf("policy allows more scripts than the service's own: %s", ContentSecurityPolicy)
	}
}

// Assets are served with their type, cached for good, and gzipped for
// clients that accept it.
func TestAssets(t *testing.T) {
	files := bundle()
	h := newHandler(files, "/query", slog.New(slog.DiscardHandler))
	js := files["assets/index-abc.js"].Data

	res := get(t, h, "/playground/assets/index-abc.js")
	if got := body(t, res); got != string(js) || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("plain: %q encoding %q", got[:min(len(got), 40)], res.Header.Get("Content-Encoding"))
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/javascript; charset=utf-8",
		"Cache-Control":           "public, max-age=31536000, immutable",
		"Content-Security-Policy": ContentSecurityPolicy,
		"Vary":                    "Accept-Encoding",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	res = get(t, h, "/playground/assets/index-abc.js", "Accept-Encoding", "br, gzip;q=0.8")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", res.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, js) || res.ContentLength >= int64(len(js)) {
		t.Errorf("gzipped body: %d bytes of %d, decodes equal: %v", res.ContentLength, len(js), bytes.Equal(got, js))
	}

	res = get(t, h, "/playground/assets/codicon-abc.ttf", "Accept-Encoding", "gzip")
	if ct, enc := res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"); ct != "font/ttf" || enc != "" {
		t.Errorf("font: type %q encoding %q, want font/ttf unencoded (gzip would not shrink it)", ct, enc)
	}
}

// Only the files under assets/ are served; the rest of AssetPrefix is 404.
func TestAssetNotFound(t *testing.T) {
	h := newHandler(bundle(), "/query", slog.New(slog.DiscardHandler))
	for _, path := range []string{
		"/playground/",
		"/playground/index.html",
		"/playground/.keep",
		"/playground/assets/missing.js",
		"/playground/assets/../index.html",
		"/playground/assets//index-abc.js",
	} {
		if res := get(t, h, path); res.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}

// A bundle whose page lost its endpoint placeholder (edited by hand) is
// refused with one error log line naming the build command, and the page
// answers 500 instead of a playground pointed nowhere.
func TestBrokenBundle(t *testing.T) {
	var logs bytes.Buffer
	h := newHandler(fstest.MapFS{"index.html": {Data: []byte("<html></html>")}}, "/query", slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "npm ci && npm run build") ||
		strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("want one error line with the build command, got:\n%s", logs.String())
	}
	if res := get(t, h, "/"); res.StatusCode != 500 || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("broken bundle: %d, CSP %q; want 500 with the CSP", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}
}

// The committed bundle: its page points at the endpoint, and every script
// and stylesheet it names is served with its type.
func TestEmbeddedBundle(t *testing.T) {
	var logs bytes.Buffer
	h := Handler("/query", slog.New(slog.NewTextHandler(&logs, nil)))
	if logs.Len() != 0 {
		t.Fatalf("the committed bundle logged: %s", logs.String())
	}
	page := body(t, get(t, h, "/"))
	if !strings.Contains(page, `content="/query"`) {
		t.Fatalf("page does not point at /query: %.300s", page)
	}
	refs := regexp.MustCompile(`(?:src|href)="(/playground/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("page names %d assets, want its script and stylesheet: %.500s", len(refs), page)
	}
	for _, ref := range refs {
		res := get(t, h, ref[1])
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), contentTypes[path.Ext(ref[1])]) {
			t.Errorf("%s: %d %q", ref[1], res.StatusCode, res.Header.Get("Content-Type"))
		}
	}
}

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                  false,
		"gzip":              true,
		"GZIP":              true,
		"br, gzip":          true,
		"gzip;q=0.5":        true,
		"gzip; q=0":         false,
		"gzip;q=0.0, br":    false,
		"deflate, br":       false,
		"x-gzip":            false,
		"identity, gzip;q=": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}
