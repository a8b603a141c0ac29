package loaders

import (
	stdjson "encoding/json"
	"reflect"
	"testing"

	"catalog-bff/store"
)

// The cache's codec writes exactly what encoding/json writes, and reads
// what it wrote, so that switching codecs needs no new key version.
func TestCodecMatchesEncodingJSON(t *testing.T) {
	noCategory := benchProduct(7)
	noCategory.CategoryID = nil
	noCategory.Images, noCategory.Tags = []store.Image{}, []string{}
	noCategory.Name = `Lamp "<&>" ünïcode ☃ \ / ` + "\u2028"
	parent := int64(3)
	docs := []store.Document{benchProduct(4242), noCategory,
		&store.Seller{ID: 77, Name: "Seller 77", Rating: 4.6, Version: 2},
		&store.Category{ID: 12, Name: "Desk lamps", ParentID: &parent, Version: 1},
		&store.Category{ID: 2, Name: "Lighting", Version: 5}}
	for _, doc := range docs {
		want, err := stdjson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := encodeDoc(doc)
		roundTrip(t, want, doc.Ref().Kind)
		if err != nil || string(got) != string(want) {
			t.Errorf("encodeDoc = %s, %v\nencoding/json = %s", got, err, want)
		}
	}
	var p store.Product
	for _, bad := range []string{`{"id":`, `[1,2]`, `{"id":"x"}`, "\x00\xff"} {
		if err := decodeDoc([]byte(bad), &p); err == nil {
			t.Errorf("decodeDoc(%q) succeeded", bad)
		}
	}
}

// roundTrip decodes what encoding/json wrote into a new document of kind,
// as the loaders do, and compares it with encoding/json's own decoding.
func roundTrip(t *testing.T, data []byte, kind store.Kind) {
	t.Helper()
	got, want := kind.New(), kind.New()
	if err := decodeDoc(data, got); err != nil {
		t.Fatalf("decodeDoc: %v", err)
	}
	if err := stdjson.Unmarshal(data, want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeDoc = %+v\nencoding/json = %+v", got, want)
	}
}
