-- The catalogue. Timestamps are microseconds since the Unix epoch (UTC), as
-- integers in both dialects, so that listing cursors compare exactly.
-- Every cached row has a version that each write increments: cache entries
-- carry it, and a write-back never replaces a newer version with an older one.
-- Ids are AUTOINCREMENT so that a deleted product's id is never reused: a cache
-- entry or marker left for the old row must never apply to a new one.

-- +goose Up
CREATE TABLE sellers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    rating     REAL NOT NULL DEFAULT 0 CHECK (rating >= 0 AND rating <= 5),
    version    BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE categories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    parent_id  BIGINT REFERENCES categories (id),
    version    BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE products (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    price_amount   BIGINT NOT NULL CHECK (price_amount >= 0),
    price_currency TEXT NOT NULL,
    category_id    BIGINT REFERENCES categories (id),
    seller_id      BIGINT NOT NULL REFERENCES sellers (id),
    stock          BIGINT NOT NULL DEFAULT 0 CHECK (stock >= 0),
    hits           BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL DEFAULT 1,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- Listing pages: a category's products, newest first, by keyset.
CREATE INDEX products_category_listing ON products (category_id, created_at DESC, id DESC);
CREATE INDEX products_seller ON products (seller_id);

CREATE TABLE product_images (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   INT NOT NULL,
    url        TEXT NOT NULL,
    alt        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (product_id, position)
);

CREATE TABLE product_tags (
    product_id BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    position   INT NOT NULL,
    tag        TEXT NOT NULL,
    PRIMARY KEY (product_id, position)
);

CREATE TABLE product_options (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id  BIGINT NOT NULL REFERENCES products (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    price_delta BIGINT NOT NULL DEFAULT 0,
    stock       BIGINT NOT NULL DEFAULT 0 CHECK (stock >= 0)
);
CREATE INDEX product_options_product ON product_options (product_id, id);

-- +goose Down
DROP TABLE product_options;
DROP TABLE product_tags;
DROP TABLE product_images;
DROP TABLE products;
DROP TABLE categories;
DROP TABLE sellers;
