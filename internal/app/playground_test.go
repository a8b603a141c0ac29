package app

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"catalog-bff/store/storetest"
)

// playgroundQuery is what the browser test types into the editor.
const playgroundQuery = `{ product(id: "1") { name } }`

// The playground in a real browser: Chromium, on a machine with no internet
// access, opens /, a product query is typed into the editor and run, and the
// result pane shows the product's name. Nothing on the page may break the
// Content-Security-Policy. The screenshot goes to PLAYGROUND_SCREENSHOT when
// set (docs/playground.png is made so), else to the test's artifact
// directory (go test -artifacts keeps it).
func TestPlaygroundInBrowser(t *testing.T) {
	chromium := requirePlayground(t)
	redisURL := storetest.RedisURL(t)
	base, _ := start(t, map[string]string{
		"DATABASE_URL":  "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL":     redisURL,
		"REDIS_PREFIX":  storetest.Prefix(t, redisURL), // its keys go with the test
		"DEMO_PRODUCTS": "20",
	})
	checkPlayground(t, chromium, base)
}

// A fresh clone (of the last commit) with only Go: no node_modules and no
// build step, the service built from the clone serves the playground, and
// it works in the browser as above. This is the README's `go run .` (built, then run, so
// that the test stops the service itself and not the go command).
func TestPlaygroundFromFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the service from a clone")
	}
	chromium := requirePlayground(t)
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git rev-parse: %v: CI runs in a clone", err)
		}
		t.Skipf("not a git checkout: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "catalog-bff")
	if out, err := exec.Command("git", "clone", "--quiet", strings.TrimSpace(string(top)), dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "graph", "playground", "node_modules")); !os.IsNotExist(err) {
		t.Fatalf("the clone has node_modules (%v)", err)
	}
	build := exec.Command("go", "build", "-o", "catalog-bff", ".")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in the clone: %v\n%s", err, out)
	}
	srv := exec.Command(filepath.Join(dir, "catalog-bff"))
	srv.Dir = dir // catalog.db lands in the clone, as for a user
	srv.Env = append(os.Environ(), "PORT=0", "REDIS_URL=off", "DATABASE_URL=", "DEMO_PRODUCTS=",
		"VIEWS_SPILL_FILE="+filepath.Join(dir, "views.spill.json"))
	logs := &storetest.LogBuffer{}
	srv.Stdout, srv.Stderr = logs, logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt) // it may have exited already
		if err := srv.Wait(); err != nil {
			t.Errorf("the service exited with %v after SIGINT; logs:\n%s", err, logs)
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the clone's service logged:\n%s", logs)
		}
	})
	var port string
	storetest.Eventually(t, 30*time.Second, "the clone's service to start", func() bool {
		p, ok := servingPort(logs.String())
		port = p
		return ok
	})
	base := "http://127.0.0.1:" + port
	checkPlayground(t, chromium, base)
}

// checkPlayground runs a product query in the playground at base in
// Chromium and checks the result, the Content-Security-Policy and the
// console.
func checkPlayground(t *testing.T, chromium, base string) {
	t.Helper()
	want := productName(t, base, "1")
	ctx := newBrowser(t, chromium)
	console := watchConsole(ctx)
	// Installed before the page's own scripts: CSP violations of the
	// document, which the page itself cannot hide.
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = [];
document.addEventListener('securitypolicyviolation', e =>
  window.cspViolations.push(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline') + ' at ' + e.sourceFile + ':' + e.lineNumber));`,
	}); err != nil {
		t.Fatal(err)
	}
	shown := runInPlayground(t, ctx, base, want)
	browseSchema(t, ctx)
	savePlaygroundScreenshot(t, ctx)
	if !strings.Contains(shown, want) {
		t.Errorf("result pane shows %q, want the product's name %q", shown, want)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations`))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range violations {
		t.Errorf("Content-Security-Policy violation: %s", v)
	}
	for _, m := range console.errors() {
		t.Errorf("page error: %s", m)
	}
}

// requirePlayground returns Chromium's path. A missing Chromium or bundle
// skips the test, or fails it under CI=true.
func requirePlayground(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true", what)
		}
		t.Skipf("%s missing: the playground is not tested in a browser", what)
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		missing("chromium (apt-get install -y chromium)")
	}
	return path
}

// productName reads a product's name through the API.
func productName(t *testing.T, base, id string) string {
	t.Helper()
	var res struct {
		Data struct{ Product struct{ Name string } }
	}
	body := post(t, base, `"{ product(id: \"`+id+`\") { name } }"`)
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Data.Product.Name == "" {
		t.Fatalf("product %s: %v %s", id, err, body)
	}
	return res.Data.Product.Name
}

// newBrowser starts headless Chromium with the flags a machine without
// internet access needs, and closes it when t ends.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 720),
	)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("chromium does not start: %v", err)
	}
	return ctx
}

// runInPlayground opens the playground, replaces the editor's query with
// playgroundQuery, runs it with the run button, and returns the result
// pane's text once it shows want, or what it shows after 30 s.
func runInPlayground(t *testing.T, ctx context.Context, base, want string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	const editor = `.graphiql-query-editor .monaco-editor`
	err := chromedp.Do(tctx,
		chromedp.EmulateViewport(1280, 720),
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(editor+` .view-lines`)),
		chromedp.Click(chromedp.CSS(editor+` .view-lines`)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.KeyEvent(kb.Backspace),
	)
	if err == nil {
		// Typed as one insertion, as a paste would be: key by key, the
		// editor would add closing brackets of its own.
		_, err = chromedp.Call(tctx, input.InsertText, input.InsertTextParams{Text: playgroundQuery})
	}
	if err != nil {
		t.Fatalf("typing the query: %v", err)
	}
	typed, err := chromedp.Run(tctx, chromedp.Evaluate[string](paneText(editor+` .view-lines`)))
	if err != nil || typed != playgroundQuery {
		t.Fatalf("editor holds %q (%v), want %q", typed, err, playgroundQuery)
	}
	if err := chromedp.Do(tctx, chromedp.Click(chromedp.CSS(`.graphiql-execute-button`))); err != nil {
		t.Fatalf("run button: %v", err)
	}
	wantJSON, _ := json.Marshal(want)
	pane := paneText(`.graphiql-response .view-lines`)
	_, err = chromedp.Run(tctx, chromedp.Poll[bool](pane+`.includes(`+string(wantJSON)+`)`,
		chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
	shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](pane))
	if err != nil {
		t.Errorf("result pane did not show %q: %v", want, err)
	}
	return shown
}

// browseSchema opens the documentation explorer, which is built from the
// endpoint's introspection, on the Query type, and checks that it lists
// product.
func browseSchema(t *testing.T, ctx context.Context) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	const docs = `.graphiql-doc-explorer`
	err := chromedp.Do(tctx,
		chromedp.Click(chromedp.CSS(`button[aria-label="Show Documentation Explorer"]`)),
		chromedp.Click(chromedp.CSS(docs+` .graphiql-doc-explorer-root-type + a.graphiql-doc-explorer-type-name`)),
	)
	if err == nil {
		_, err = chromedp.Run(tctx, chromedp.Poll[bool](paneText(docs)+`.includes('product(id: ID!): Product')`,
			chromedp.WithPollingInterval(100*time.Millisecond)))
	}
	if err != nil {
		shown, _ := chromedp.Run(ctx, chromedp.Evaluate[string](paneText(docs)))
		t.Errorf("documentation explorer: %v; it shows:\n%s", err, shown)
	}
}

// paneText is a JavaScript expression for the text an editor pane shows,
// with Monaco's non-breaking spaces made plain.
func paneText(selector string) string {
	return `(document.querySelector('` + selector + `')?.innerText ?? '').replace(/\u00a0/g, ' ').trim()`
}

// savePlaygroundScreenshot saves what the browser shows as a PNG.
func savePlaygroundScreenshot(t *testing.T, ctx context.Context) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := os.Getenv("PLAYGROUND_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.ArtifactDir(), "playground.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// consoleLog collects the page's console messages.
type consoleLog struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

// watchConsole collects the console messages of the page from now on.
func watchConsole(ctx context.Context) *consoleLog {
	c := &consoleLog{}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
		}
	}()
	return c
}

// errors returns the uncaught exceptions and the errors of the browser log
// and of the console API, each as its type and text.
func (c *consoleLog) errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.IsException() || m.Type == chromedp.ConsoleError {
			out = append(out, m.String()+" ("+m.URL+")")
		}
	}
	return out
}
