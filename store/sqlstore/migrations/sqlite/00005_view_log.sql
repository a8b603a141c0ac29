-- The view log's applied position (docs/VIEWS.md). Views are appended to a
-- Redis Stream whose entry ids only rise; a flush adds the views of the
-- entries after `position` to products.hits and moves `position` to the last
-- of them, in one transaction. A Redis restored from an older snapshot, or a
-- replica promoted while it lagged, brings back entries at or before this
-- position: they are skipped, never counted twice. `token` changes at every
-- flush and is copied into Redis after the commit (the trim), so that a
-- Redis whose token is neither it nor `prev_token` (a trim not landed yet)
-- is known to have gone back in time, or to have lost its data.

-- +goose Up
CREATE TABLE view_log (
    name       TEXT PRIMARY KEY,
    position   TEXT NOT NULL,   -- the last applied stream entry id, "ms-seq"
    token      TEXT NOT NULL,   -- changed by every flush that applies entries
    prev_token TEXT NOT NULL,   -- the token before it
    updated_at BIGINT NOT NULL  -- microseconds since the Unix epoch
);
INSERT INTO view_log (name, position, token, prev_token, updated_at) VALUES ('views', '0-0', '', '', 0);

-- +goose Down
DROP TABLE view_log;
