package playground

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// contentTypes names the types of the files a build produces. Module scripts
// and, under nosniff, stylesheets are refused by browsers without the right
// type, and the system's MIME table may not know fonts.
var contentTypes = map[string]string{
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".ttf":   "font/ttf",
	".woff":  "font/woff",
	".woff2": "font/woff2",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".json":  "application/json",
}

// assets serves the files under dist/assets. Their names carry a hash of
// their content, so browsers may keep them for a year. Each file is read,
// and gzipped for clients that accept it, once, on its first request.
type assets struct {
	files fs.FS
	mu    sync.Mutex
	cache map[string]*asset
}

// asset is one file of the bundle, as sent.
type asset struct {
	once  sync.Once
	ctype string
	raw   []byte
	gz    []byte // nil when gzip does not make it smaller
	err   error
}

func newAssets(files fs.FS) *assets {
	return &assets{files: files, cache: map[string]*asset{}}
}

// serve writes the file name (relative to dist/), or 404 when the bundle has
// no such asset.
func (s *assets) serve(w http.ResponseWriter, r *http.Request, name string) {
	if !strings.HasPrefix(name, "assets/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	a := s.get(name)
	if a.err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Add("Vary", "Accept-Encoding")
	body := a.raw
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// get returns the loaded asset, loading it on first use.
func (s *assets) get(name string) *asset {
	s.mu.Lock()
	a, ok := s.cache[name]
	if !ok {
		a = &asset{}
		s.cache[name] = a
	}
	s.mu.Unlock()
	a.once.Do(func() { a.load(s.files, name) })
	return a
}

func (a *asset) load(files fs.FS, name string) {
	if a.raw, a.err = fs.ReadFile(files, name); a.err != nil {
		return
	}
	ext := path.Ext(name)
	if a.ctype = contentTypes[ext]; a.ctype == "" {
		if a.ctype = mime.TypeByExtension(ext); a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, werr := zw.Write(a.raw)                               // into memory: cannot fail
	if werr == nil && zw.Close() == nil && buf.Len() < len(a.raw) {
		a.gz = buf.Bytes()
	}
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}
