package app

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The frontend workflow end to end: examples/storefront generates typed
// documents and the persisted documents manifest from schema.graphqls with
// GraphQL Code Generator's client preset, the service loads that manifest
// in require mode, and the example's product page runs through Apollo
// Client by document id. An operation outside the manifest is refused.
func TestStorefrontExampleTrustedDocuments(t *testing.T) {
	dir := filepath.Join(repoRoot, "examples", "storefront")
	buildStorefront(t, dir)
	// The generated documents and manifest are committed: the build must
	// not change them.
	src := filepath.Join(dir, "src")
	changed, err := exec.Command("git", "diff", "--name-only", "--", src).Output()
	if err != nil {
		t.Fatal(err)
	}
	added, err := exec.Command("git", "ls-files", "--others", "--exclude-standard", "--", src).Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(changed)+len(added) > 0 {
		t.Fatalf("codegen changed the committed documents (run npm run build in %s and commit):\n%s%s", dir, changed, added)
	}
	manifest, err := filepath.Abs(filepath.Join(dir, "src", "gql", "persisted-documents.json"))
	if err != nil {
		t.Fatal(err)
	}
	c := startChild(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL": "off", "DEMO_PRODUCTS": "50", "TRUSTED_DOCUMENTS": "require", "TRUSTED_DOCUMENTS_FILE": manifest})

	cmd := exec.Command("node", "dist/main.js", "42")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "ENDPOINT="+c.base+"/query")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the example failed: %v\n%s\nserver:\n%s", err, out, c.logs)
	}
	var got struct {
		Page, Again struct {
			Product struct {
				ID, Name string
				Hits     int
				Seller   struct{ Name string }
			}
		}
		View struct{ RecordView struct{ Hits int } }
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the example printed %s: %v", out, err)
	}
	p := got.Page.Product
	if p.ID != "42" || p.Name == "" || p.Seller.Name == "" || got.View.RecordView.Hits != p.Hits+1 || got.Again.Product.Hits != p.Hits+1 {
		t.Fatalf("the example read %+v", got)
	}

	res, err := http.Post(c.base+"/query", "application/json", strings.NewReader(`{"query":"{ product(id: \"42\") { id name description } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var refused struct {
		Errors []struct{ Extensions struct{ Code string } }
	}
	if err := json.NewDecoder(res.Body).Decode(&refused); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusBadRequest || len(refused.Errors) != 1 || refused.Errors[0].Extensions.Code != "DOCUMENT_NOT_TRUSTED" {
		t.Fatalf("an operation outside the manifest: %d %+v, want 400 DOCUMENT_NOT_TRUSTED", res.StatusCode, refused)
	}
}

// The no-defer decision through a real client: Apollo Client 4, set up for
// incremental delivery, sends a query with @defer (the example's
// src/defer.ts) to a service without a manifest; the query fails
// validation with a message naming the directive, and no data comes back.
func TestApolloClientDeferRefused(t *testing.T) {
	dir := filepath.Join(repoRoot, "examples", "storefront")
	buildStorefront(t, dir)
	c := startChild(t, map[string]string{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "catalog.db"),
		"REDIS_URL": "off", "DEMO_PRODUCTS": "5"})
	cmd := exec.Command("node", "dist/defer.js")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "ENDPOINT="+c.base+"/query")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the defer client failed: %v\n%s", err, out)
	}
	var got struct {
		Data  json.RawMessage
		Error string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the defer client printed %s: %v", out, err)
	}
	if string(got.Data) != "null" || !strings.Contains(got.Error, `Unknown directive "@defer"`) {
		t.Fatalf("Apollo Client 4 with @defer got %s, want no data and an error naming @defer", out)
	}
}

// buildStorefront installs the storefront example's packages and builds
// it (codegen, then tsc).
func buildStorefront(t *testing.T, dir string) {
	t.Helper()
	npm := npmFor(t, "the storefront example")
	runNPM(t, npm, dir, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	runNPM(t, npm, dir, "run", "build")
}

// npmFor returns the npm command for a test of what that installs npm
// packages: it skips the test under -short, and without npm (failing it
// under CI=true, where npm is installed).
func npmFor(t *testing.T, what string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("installs npm packages for " + what)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("npm is required under CI=true")
		}
		t.Skip("npm missing: " + what + " is not tested")
	}
	return npm
}

// runNPM runs npm with args in dir, failing t on an error.
func runNPM(t *testing.T, npm, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command(npm, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
