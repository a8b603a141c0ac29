package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// SeedOptions says what Seed generates and whether it may replace data.
type SeedOptions struct {
	// Products is how many products to create, with ids 1..Products. It must
	// not be negative. The max(5, Products/200) sellers and the 48 categories
	// are created whatever it is.
	Products int
	// Seed selects the catalogue: the same Products and Seed always give the
	// same rows, in either dialect.
	Seed uint64
	// Reset deletes the existing catalogue first. Without it, Seed leaves a
	// catalogue that is not empty untouched and returns ErrNotEmpty.
	Reset bool
}

// ErrNotEmpty is the error (wrapped) that Seed returns when the catalogue
// already holds data and SeedOptions.Reset is false.
var ErrNotEmpty = errors.New("the catalogue is not empty")

// seedBase is the creation time of the first seeded product.
var seedBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// Bounds on one multi-row INSERT: below SQLite's 32766 and PostgreSQL's 65535
// bind parameters, and not so many rows that one statement gets unwieldy.
const (
	maxSeedParams = 30000
	maxSeedRows   = 1000
)

// Empty reports whether the catalogue holds no products, no sellers and no
// categories (the tables Seed fills with fixed ids). It sends one statement.
func (d *DB) Empty(ctx context.Context) (bool, error) {
	empty, err := d.empty(ctx, d.db)
	if err != nil {
		return false, fmt.Errorf("store: empty: %w", err)
	}
	return empty, nil
}

func (d *DB) empty(ctx context.Context, q sqlx.QueryerContext) (bool, error) {
	var empty int
	err := d.get(ctx, q, &empty, `
		SELECT CASE WHEN EXISTS (SELECT 1 FROM products)
		              OR EXISTS (SELECT 1 FROM sellers)
		              OR EXISTS (SELECT 1 FROM categories)
		       THEN 0 ELSE 1 END`)
	return empty == 1, err
}

// Seed fills the catalogue with generated sellers, a two-level category tree
// (8 top-level categories with 5 children each; only the children hold
// products), and opt.Products products with their images, tags and options.
// Ids are assigned explicitly from 1, and the rows depend only on
// opt.Products and opt.Seed, so a seeded catalogue is reproducible.
//
// Everything happens in one transaction: on any error, nothing has changed.
// When the catalogue is not empty, Seed returns an error wrapping ErrNotEmpty
// unless opt.Reset, in which case it first deletes every catalogue row. A
// reset reuses ids, so any cache of the old rows must be flushed by the
// caller. On PostgreSQL, Seed moves the identity sequences past the seeded
// ids so that later inserts get fresh ones.
//
// Rows go in multi-row INSERTs, so the statement count grows with
// Products/1000, not with Products.
func (d *DB) Seed(ctx context.Context, opt SeedOptions) error {
	if opt.Products < 0 {
		return fmt.Errorf("store: seed: Products is %d, want 0 or more", opt.Products)
	}
	tables := generate(opt)
	if err := d.seed(bulk(ctx, 5*time.Minute), tables, opt.Reset); err != nil {
		return fmt.Errorf("store: seed: %w", err)
	}
	return nil
}

func (d *DB) seed(ctx context.Context, tables []*seedTable, reset bool) error {
	tx, err := d.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := d.clear(ctx, tx, reset); err != nil {
		return err
	}
	for _, t := range tables {
		if err := d.insertRows(ctx, tx, t); err != nil {
			return fmt.Errorf("insert into %s: %w", t.name, err)
		}
	}
	if err := d.resetSequences(ctx, tx); err != nil {
		return fmt.Errorf("reset sequences: %w", err)
	}
	return tx.Commit()
}

// clear deletes the catalogue, children first, when it is not empty and reset
// is true. When it is not empty and reset is false, it returns ErrNotEmpty.
func (d *DB) clear(ctx context.Context, tx *sqlx.Tx, reset bool) error {
	empty, err := d.empty(ctx, tx)
	switch {
	case err != nil:
		return err
	case empty:
		return nil
	case !reset:
		return ErrNotEmpty
	}
	for _, table := range []string{"product_options", "product_tags", "product_images", "products", "categories", "sellers"} {
		if _, err := d.exec(ctx, tx, `DELETE FROM `+table); err != nil {
			return fmt.Errorf("reset %s: %w", table, err)
		}
	}
	// The new catalogue reuses ids and versions: under the old identity,
	// cached entries of the old one would pass for current.
	if err := d.newIdentity(ctx, tx); err != nil {
		return fmt.Errorf("reset the catalogue's identity: %w", err)
	}
	return nil
}

// resetSequences makes PostgreSQL's identity sequences hand out ids above the
// largest seeded one. SQLite's AUTOINCREMENT already does, by itself.
func (d *DB) resetSequences(ctx context.Context, tx *sqlx.Tx) error {
	if d.dialect != Postgres {
		return nil
	}
	_, err := d.exec(ctx, tx, `
		SELECT setval(pg_get_serial_sequence('sellers', 'id'),
		              (SELECT COALESCE(MAX(id), 0) + 1 FROM sellers), false),
		       setval(pg_get_serial_sequence('categories', 'id'),
		              (SELECT COALESCE(MAX(id), 0) + 1 FROM categories), false),
		       setval(pg_get_serial_sequence('products', 'id'),
		              (SELECT COALESCE(MAX(id), 0) + 1 FROM products), false),
		       setval(pg_get_serial_sequence('product_options', 'id'),
		              (SELECT COALESCE(MAX(id), 0) + 1 FROM product_options), false)`)
	return err
}

// seedTable is the generated content of one table: its rows, as bind
// arguments laid end to end, len(columns) per row.
type seedTable struct {
	name    string
	columns []string
	args    []any
}

func newSeedTable(name string, columns ...string) *seedTable {
	return &seedTable{name: name, columns: columns}
}

// add appends one row; values are in the order of t.columns.
func (t *seedTable) add(values ...any) { t.args = append(t.args, values...) }

// insertSQL returns an INSERT of rows rows, with ? placeholders. It is built,
// not a literal, because its length depends on the batch.
func (t *seedTable) insertSQL(rows int) string {
	row := "(" + strings.Repeat("?, ", len(t.columns)-1) + "?)"
	var b strings.Builder
	b.Grow(64 + rows*(len(row)+2))
	b.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.columns, ", ") + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}

// insertRows inserts t's rows in multi-row INSERTs that each stay below the
// bind-parameter limit. Every statement but the last has the same text, so
// PostgreSQL prepares it once.
func (d *DB) insertRows(ctx context.Context, tx *sqlx.Tx, t *seedTable) error {
	width := len(t.columns)
	batch := min(maxSeedRows, maxSeedParams/width) * width
	query, queryRows := "", 0
	for start := 0; start < len(t.args); start += batch {
		args := t.args[start:min(start+batch, len(t.args))]
		if rows := len(args) / width; rows != queryRows {
			query, queryRows = t.insertSQL(rows), rows
		}
		if _, err := d.exec(ctx, tx, query, args...); err != nil {
			return err
		}
	}
	return nil
}

// Word lists for generated names. Changing them changes every seeded
// catalogue.
var (
	seedAdjectives = []string{"Compact", "Classic", "Rugged", "Slim", "Premium", "Everyday",
		"Vintage", "Modern", "Portable", "Deluxe", "Essential", "Lightweight", "Heavy-Duty",
		"Ergonomic", "Smart", "Cozy", "Sleek", "Handmade", "Foldable", "Weatherproof"}
	seedMaterials = []string{"Bamboo", "Steel", "Oak", "Cotton", "Leather", "Ceramic",
		"Glass", "Wool", "Aluminium", "Linen"}
	seedNouns = []string{"Kettle", "Backpack", "Lamp", "Headphones", "Chair", "Notebook",
		"Jacket", "Mug", "Blender", "Tent", "Watch", "Scarf", "Speaker", "Cushion", "Skillet",
		"Sneakers", "Bottle", "Desk", "Keyboard", "Umbrella"}
	seedBenefits = []string{"built to last for years", "designed for everyday use",
		"easy to clean", "loved by our customers", "a thoughtful gift", "shipped within two days"}
	seedTags = []string{"new", "bestseller", "sale", "eco-friendly", "gift", "handmade",
		"limited", "premium", "bundle", "clearance", "trending", "exclusive", "outdoor",
		"kitchen", "office", "travel"}
	seedSellerNames = [][]string{
		{"Northwind", "Bluebird", "Acme", "Summit", "Harbor", "Maple", "Golden", "Urban", "Pioneer", "Silverline"},
		{"Traders", "Goods", "Supply", "Outfitters", "Market", "Emporium", "Depot", "& Sons"},
	}
	seedOptionNames = [][]string{
		{"Size XS", "Size S", "Size M", "Size L", "Size XL"},
		{"Colour Black", "Colour White", "Colour Red", "Colour Blue", "Colour Green"},
		{"Pack of 1", "Pack of 2", "Pack of 4", "Pack of 6", "Pack of 12"},
	}
	// seedCategories maps each top-level category to its children, in id
	// order: the top-level ones get ids 1..8, their children 9..48.
	seedCategories = []struct {
		name     string
		children []string
	}{
		{"Electronics", []string{"Phones", "Laptops", "Audio", "Cameras", "Wearables"}},
		{"Home & Kitchen", []string{"Cookware", "Furniture", "Lighting", "Bedding", "Storage"}},
		{"Fashion", []string{"Women", "Men", "Shoes", "Bags", "Accessories"}},
		{"Sports & Outdoors", []string{"Camping", "Cycling", "Fitness", "Running", "Water Sports"}},
		{"Books", []string{"Fiction", "Non-fiction", "Children's Books", "Comics", "Cookbooks"}},
		{"Toys & Games", []string{"Board Games", "Puzzles", "Building Sets", "Dolls", "Outdoor Toys"}},
		{"Beauty", []string{"Skincare", "Makeup", "Fragrance", "Hair Care", "Bath & Body"}},
		{"Garden", []string{"Plants", "Tools", "Garden Furniture", "Grills", "Watering"}},
	}
	// seedCurrencies gives each currency its price step in minor units and
	// what a price ends short of a whole number of steps: prices run from
	// 0.99 to 499.99 euros or dollars, and from 1,000 to 500,000 won.
	seedCurrencies = []struct {
		code        string
		unit, charm int64
	}{{"EUR", 100, 1}, {"USD", 100, 1}, {"KRW", 1000, 0}}
)

// seedGenerator builds the rows of a seeded catalogue. Every random choice
// comes from one PCG stream, drawn in a fixed order, so the rows depend only
// on the seed and the number of products.
type seedGenerator struct {
	rng                               *rand.Rand
	sellers, categories, products     *seedTable
	images, tags, options             *seedTable
	sellerCount, leafFirst, leafCount int64
	clock                             int64 // created_at of the latest product, in µs
	optionID                          int64
}

// generate returns the seeded tables in insertion order: parents before the
// rows that reference them.
func generate(opt SeedOptions) []*seedTable {
	g := &seedGenerator{
		rng:        rand.New(rand.NewPCG(opt.Seed, 0x5eed5eed5eed5eed)),
		sellers:    newSeedTable("sellers", "id", "name", "rating", "version"),
		categories: newSeedTable("categories", "id", "name", "parent_id", "version"),
		products: newSeedTable("products", "id", "name", "description", "price_amount",
			"price_currency", "category_id", "seller_id", "stock", "hits", "version",
			"created_at", "updated_at"),
		images:  newSeedTable("product_images", "product_id", "position", "url", "alt"),
		tags:    newSeedTable("product_tags", "product_id", "position", "tag"),
		options: newSeedTable("product_options", "id", "product_id", "name", "price_delta", "stock"),
		clock:   seedBase,
	}
	g.addSellers(int64(max(5, opt.Products/200)))
	g.addCategories()
	for id := int64(1); id <= int64(opt.Products); id++ {
		g.addProduct(id)
	}
	return []*seedTable{g.sellers, g.categories, g.products, g.images, g.tags, g.options}
}

func (g *seedGenerator) pick(words []string) string { return words[g.rng.IntN(len(words))] }

// addSellers adds sellers 1..n, rated 0.0 to 5.0 in steps of 0.1.
func (g *seedGenerator) addSellers(n int64) {
	g.sellerCount = n
	for id := int64(1); id <= n; id++ {
		name := g.pick(seedSellerNames[0]) + " " + g.pick(seedSellerNames[1])
		g.sellers.add(id, name, float64(g.rng.IntN(51))/10, int64(1))
	}
}

// addCategories adds the top-level categories, then all their children.
func (g *seedGenerator) addCategories() {
	for i, c := range seedCategories {
		g.categories.add(int64(i+1), c.name, nil, int64(1))
	}
	id := int64(len(seedCategories))
	g.leafFirst = id + 1
	for i, c := range seedCategories {
		for _, child := range c.children {
			id++
			g.categories.add(id, child, int64(i+1), int64(1))
		}
	}
	g.leafCount = id - g.leafFirst + 1
}

// addProduct adds product id with its images, tags and options.
func (g *seedGenerator) addProduct(id int64) {
	adj, material, noun := g.pick(seedAdjectives), g.pick(seedMaterials), g.pick(seedNouns)
	name := adj + " " + material + " " + noun
	desc := fmt.Sprintf("A %s %s in %s, %s.", strings.ToLower(adj), strings.ToLower(noun),
		strings.ToLower(material), g.pick(seedBenefits))
	cur := seedCurrencies[g.rng.IntN(len(seedCurrencies))]
	price := (1+g.rng.Int64N(500))*cur.unit - cur.charm
	var category any = g.leafFirst + g.rng.Int64N(g.leafCount)
	if g.rng.IntN(50) == 0 {
		category = nil // uncategorised
	}
	created := g.createdAt()
	updated := created
	if g.rng.IntN(3) == 0 {
		updated += g.rng.Int64N(30*24*3600) * 1e6
	}
	g.products.add(id, name, desc, price, cur.code, category, 1+g.rng.Int64N(g.sellerCount),
		g.rng.Int64N(501), int64(0), int64(1), created, updated)
	g.addImages(id, name)
	g.addTags(id)
	g.addOptions(id, cur.unit)
}

// createdAt advances the clock by 1 to 120 whole seconds, except that one
// product in five shares the previous product's timestamp. One product in 25
// is backdated by up to a day (never before seedBase), so listing order
// (created_at DESC, id DESC) is mostly, not always, id order.
func (g *seedGenerator) createdAt() int64 {
	if g.rng.IntN(5) != 0 {
		g.clock += (1 + g.rng.Int64N(120)) * 1e6
	}
	if g.rng.IntN(25) == 0 {
		return max(seedBase, g.clock-g.rng.Int64N(24*3600)*1e6)
	}
	return g.clock
}

// addImages adds 0 to 5 images, at positions 1..n.
func (g *seedGenerator) addImages(id int64, name string) {
	for n := range g.rng.IntN(6) {
		url := fmt.Sprintf("https://img.example.com/p/%d/%d.jpg", id, n+1)
		g.images.add(id, int64(n+1), url, fmt.Sprintf("%s, view %d", name, n+1))
	}
}

// addTags adds 0 to 5 distinct tags, at positions 1..n.
func (g *seedGenerator) addTags(id int64) {
	n := g.rng.IntN(6)
	for i, t := range g.rng.Perm(len(seedTags))[:n] {
		g.tags.add(id, int64(i+1), seedTags[t])
	}
}

// addOptions adds 0 to 4 options of one kind (sizes, colours or pack sizes),
// consecutive values in display order. The first costs the base price; the
// others cost up to 2·i price units more.
func (g *seedGenerator) addOptions(id, unit int64) {
	n := g.rng.IntN(5)
	names := seedOptionNames[g.rng.IntN(len(seedOptionNames))]
	first := g.rng.IntN(len(names) - n + 1)
	for i, name := range names[first : first+n] {
		g.optionID++
		delta := int64(i) * unit * g.rng.Int64N(3)
		g.options.add(g.optionID, id, name, delta, g.rng.Int64N(201))
	}
}
