package loaders

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"catalog-bff/store"
	"catalog-bff/store/redisstore"
)

// benchProduct is a product document of the usual size: three images,
// three tags, a two-sentence description.
func benchProduct(id int64) *store.Product {
	cat := int64(12)
	t := time.Date(2026, 3, 14, 15, 9, 26, 535000000, time.UTC)
	p := &store.Product{ID: id, Name: fmt.Sprintf("Walnut desk lamp %d", id),
		Description: "A sturdy walnut desk lamp with a linen shade, a brass switch and a braided cable. " +
			"Fits a 60 W equivalent LED bulb; the arm turns 270 degrees.",
		Price: store.Money{Amount: 4999, Currency: "EUR"}, CategoryID: &cat, SellerID: 77,
		Tags: []string{"lighting", "walnut", "desk"}, Hits: 1234, Version: 3, CreatedAt: t, UpdatedAt: t}
	for i := 1; i <= 3; i++ {
		p.Images = append(p.Images, store.Image{URL: fmt.Sprintf("https://img.example.com/p/%d/%d.jpg", id, i),
			Alt: fmt.Sprintf("Walnut desk lamp %d, view %d", id, i)})
	}
	return p
}

// staticCache answers every Get from a fixed set of entries and records
// nothing, so that a benchmark measures the batch function alone.
type staticCache map[int64]redisstore.Entry

func (c staticCache) Get(_ context.Context, _ store.Kind, ids []int64) ([]redisstore.Entry, error) {
	out := make([]redisstore.Entry, len(ids))
	for i, id := range ids {
		out[i] = c[id]
	}
	return out, nil
}

func (c staticCache) PutKinds(context.Context, ...redisstore.KindFills) error { return nil }

// Read answers as Get: every key is a hit, so no lease is taken.
func (c staticCache) Read(ctx context.Context, kind store.Kind, ids []int64, _ time.Duration) ([]redisstore.Entry, []redisstore.LeaseState, error) {
	entries, err := c.Get(ctx, kind, ids)
	return entries, make([]redisstore.LeaseState, len(ids)), err
}

// BenchmarkBatchWarm is the product batch function on a batch of 20 keys
// that are all in the cache: decoding and putting results in key order.
func BenchmarkBatchWarm(b *testing.B) {
	c := staticCache{}
	keys := make([]int64, 20)
	for i := range keys {
		keys[i] = int64(1000 + i)
		data, err := encodeDoc(benchProduct(keys[i]))
		if err != nil {
			b.Fatal(err)
		}
		c[keys[i]] = redisstore.Entry{State: redisstore.Hit, Version: 3, Data: data}
	}
	s := &fakeStore{}
	f := NewFactory(Options{Store: s, Cache: c})
	batch := &cached{f: f, kind: store.ProductKind}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res := batch.batch(ctx, keys)
		if res[19].Data == nil || res[19].Data.Ref().ID != keys[19] {
			b.Fatal("wrong result")
		}
	}
	if len(s.calls) > 0 {
		b.Fatalf("a warm batch read SQL: %v", s.calls)
	}
}

// BenchmarkCodec encodes and decodes one product document as the cache
// stores it, and as encoding/json would.
func BenchmarkCodec(b *testing.B) {
	p := benchProduct(4242)
	codecs := []struct {
		name   string
		encode func(*store.Product) ([]byte, error)
		decode func([]byte, *store.Product) error
	}{
		{"json", func(p *store.Product) ([]byte, error) { return json.Marshal(p) },
			func(b []byte, p *store.Product) error { return json.Unmarshal(b, p) }},
		{"cache", func(p *store.Product) ([]byte, error) { return encodeDoc(p) },
			func(b []byte, p *store.Product) error { return decodeDoc(b, p) }},
	}
	for _, c := range codecs {
		data, err := c.encode(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := c.encode(p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var q store.Product
				if err := c.decode(data, &q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
