-- The write-behind view counter (docs/VIEWS.md). Each flush adds a batch of
-- views to products.hits and records the batch here, in one transaction. The
-- primary key makes a second apply of the same batch (a retry, a restart
-- after a crash, another instance re-applying it) insert nothing, and the
-- flusher then skips the UPDATE: every view is applied exactly once.

-- +goose Up
CREATE TABLE view_batches (
    batch_id   TEXT PRIMARY KEY,
    applied_at BIGINT NOT NULL, -- microseconds since the Unix epoch
    products   BIGINT NOT NULL, -- distinct products in the batch
    views      BIGINT NOT NULL  -- views in the batch
);
-- Pruning: rows older than the retention are deleted by age.
CREATE INDEX view_batches_applied ON view_batches (applied_at);

-- +goose Down
DROP TABLE view_batches;
