package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// warm asks once for every hot product, so that the cache holds them and
// their view counts before anything is measured, and learns the categories
// and the listing cursors the listing scenario uses. It fails when a hot
// product does not exist: the catalogue is smaller than -products.
func (w *workload) warm(client *http.Client) error {
	ids := make(chan int, len(w.hot))
	for i := range w.hot {
		ids <- i
	}
	close(ids)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for i := range ids {
				if err := w.warmOne(client, i); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	return w.warmListings(client)
}

func (w *workload) warmOne(client *http.Client, i int) error {
	var data struct {
		Product *struct {
			Category *struct {
				ID string `json:"id"`
			} `json:"category"`
		} `json:"product"`
	}
	if err := w.do(client, w.detail[i], &data); err != nil {
		return fmt.Errorf("warm-up of product %d: %w", w.hot[i], err)
	}
	if data.Product == nil {
		return fmt.Errorf("product %d does not exist: is the catalogue smaller than -products?", w.hot[i])
	}
	if c := data.Product.Category; c != nil {
		if id, err := strconv.ParseInt(c.ID, 10, 64); err == nil {
			w.noteCategory(id)
		}
	}
	return nil
}

// warmListings reads the first page of every category seen, for the cursor
// of its second page.
func (w *workload) warmListings(client *http.Client) error {
	if len(w.categories) == 0 {
		return fmt.Errorf("warm-up: no hot product has a category, so there is no listing to ask for")
	}
	for _, c := range w.categories {
		var data struct {
			CategoryProducts struct {
				PageInfo struct {
					EndCursor *string `json:"endCursor"`
				} `json:"pageInfo"`
			} `json:"categoryProducts"`
		}
		b := body(listingQuery, map[string]any{"c": strconv.FormatInt(c, 10)})
		if err := w.do(client, b, &data); err != nil {
			return fmt.Errorf("warm-up of category %d: %w", c, err)
		}
		if cur := data.CategoryProducts.PageInfo.EndCursor; cur != nil {
			w.noteCursor(c, *cur)
		}
	}
	return nil
}

// do posts one GraphQL request and decodes its data; a GraphQL error is an
// error.
func (w *workload) do(client *http.Client, b []byte, data any) error {
	req, err := http.NewRequest("POST", w.url, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header = w.header.Clone()
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("HTTP %d, not JSON: %.200s", res.StatusCode, raw)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("HTTP %d: %s", res.StatusCode, r.Errors[0].Message)
	}
	return json.Unmarshal(r.Data, data)
}

// newClient is the HTTP client of warm-up and of the cost reads.
func newClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}
