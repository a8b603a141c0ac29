package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The selections a product page and a listing page ask for.
const (
	detailSelection = `id name description price { amount currency } images { url alt } tags ` +
		`category { id name parent { id name } } seller { id name rating } hits`
	listingSelection = `id name price { amount currency } images { url alt } hits`

	detailQuery  = `query Detail($id: ID!) { product(id: $id) { ` + detailSelection + ` } }`
	batchQuery   = `query Batch($ids: [ID!]!) { products(ids: $ids) { ` + detailSelection + ` } }`
	listingQuery = `query Listing($c: ID!, $after: String) { categoryProducts(categoryId: $c, first: 20, after: $after) { ` +
		`edges { cursor node { ` + listingSelection + ` } } pageInfo { hasNextPage endCursor } } }`
	viewQuery   = `mutation View($id: ID!) { recordView(productId: $id) { id hits } }`
	updateQuery = `mutation Update($id: ID!, $price: MoneyInput!) { updateProduct(id: $id, input: {price: $price}) { id price { amount currency } } }`
)

// scenarios lists the scenario names, in the order they run by default.
var scenarios = []string{"detail", "batch", "listing", "views", "mixed"}

// batchSize is the number of ids of one products(ids:) request.
const batchSize = 20

// workload builds the requests of every scenario over a hot set of product
// ids. Its targeters are safe for concurrent use, as vegeta calls them from
// every worker.
type workload struct {
	url    string
	header http.Header // Content-Type
	admin  http.Header // Content-Type and the admin bearer token
	hot    []int64
	detail [][]byte // a prepared detail request per hot id

	mu         sync.Mutex
	categories []int64  // categories seen on hot products
	cursors    []string // end cursors of their first pages
}

// newWorkload picks hot ids out of 1..products, deterministically from seed.
func newWorkload(url, token string, products, hot int, seed uint64) *workload {
	w := &workload{url: url, header: http.Header{"Content-Type": {"application/json"}}}
	w.admin = w.header.Clone()
	if token != "" {
		w.admin.Set("Authorization", "Bearer "+token)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	seen := map[int64]bool{}
	for len(w.hot) < min(hot, products) {
		id := 1 + rng.Int64N(int64(products))
		if !seen[id] {
			seen[id] = true
			w.hot = append(w.hot, id)
		}
	}
	for _, id := range w.hot {
		w.detail = append(w.detail, body(detailQuery, map[string]any{"id": strconv.FormatInt(id, 10)}))
	}
	return w
}

// body encodes a GraphQL request.
func body(query string, vars map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		panic(err) // strings and numbers always encode
	}
	return b
}

func (w *workload) randomID() int64 { return w.hot[rand.IntN(len(w.hot))] }

func (w *workload) post(t *vegeta.Target, b []byte, h http.Header) {
	t.Method, t.URL, t.Body, t.Header = "POST", w.url, b, h
}

// targeter returns the request source of a scenario.
func (w *workload) targeter(scenario string) (vegeta.Targeter, error) {
	switch scenario {
	case "detail":
		return w.one(w.detailTarget), nil
	case "batch":
		return w.one(w.batchTarget), nil
	case "listing":
		return w.one(w.listingTarget), nil
	case "views":
		return w.one(w.viewTarget), nil
	case "mixed":
		return w.one(w.mixedTarget), nil
	}
	return nil, fmt.Errorf("unknown scenario %q (want one of %v)", scenario, scenarios)
}

func (w *workload) one(f func(*vegeta.Target)) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		if t == nil {
			return vegeta.ErrNilTarget
		}
		f(t)
		return nil
	}
}

func (w *workload) detailTarget(t *vegeta.Target) {
	w.post(t, w.detail[rand.IntN(len(w.detail))], w.header)
}

func (w *workload) batchTarget(t *vegeta.Target) {
	ids := make([]string, batchSize)
	for i := range ids {
		ids[i] = strconv.FormatInt(w.randomID(), 10)
	}
	w.post(t, body(batchQuery, map[string]any{"ids": ids}), w.header)
}

// listingTarget asks for the first page of a category, or for the second
// page after a cursor seen during warm-up.
func (w *workload) listingTarget(t *vegeta.Target) {
	w.mu.Lock()
	i := rand.IntN(len(w.categories))
	c, after := w.categories[i], any(nil)
	if rand.IntN(2) == 0 && w.cursors[i] != "" {
		after = w.cursors[i]
	}
	w.mu.Unlock()
	w.post(t, body(listingQuery, map[string]any{"c": strconv.FormatInt(c, 10), "after": after}), w.header)
}

func (w *workload) viewTarget(t *vegeta.Target) {
	w.post(t, body(viewQuery, map[string]any{"id": strconv.FormatInt(w.randomID(), 10)}), w.header)
}

// mixedTarget is a product site's traffic: 90 % product pages, 5 % listing
// pages, 4 % views and 1 % price changes by an admin.
func (w *workload) mixedTarget(t *vegeta.Target) {
	switch n := rand.IntN(100); {
	case n < 90:
		w.detailTarget(t)
	case n < 95:
		w.listingTarget(t)
	case n < 99:
		w.viewTarget(t)
	default:
		price := map[string]any{"amount": 100 + rand.IntN(100_000), "currency": "EUR"}
		w.post(t, body(updateQuery, map[string]any{"id": strconv.FormatInt(w.randomID(), 10), "price": price}), w.admin)
	}
}

// noteCategory remembers a category seen on a product, for listings.
func (w *workload) noteCategory(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.categories, id) {
		w.categories = append(w.categories, id)
		w.cursors = append(w.cursors, "")
	}
}

func (w *workload) noteCursor(category int64, cursor string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i := slices.Index(w.categories, category); i >= 0 {
		w.cursors[i] = cursor
	}
}
