-- Durable cache invalidation. A write queues its invalidations here in its
-- own transaction, so that they survive a Redis outage and a crash between
-- the commit and the Redis call; a worker delivers them and deletes them.
-- cache_state holds the cache key generation, bumped to abandon the whole
-- cache when the outbox backs up past its bound.

-- +goose Up
CREATE TABLE cache_outbox (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT NOT NULL,
    entity_id  BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE cache_state (
    id         INT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
INSERT INTO cache_state (id, generation) VALUES (1, 1);

-- +goose Down
DROP TABLE cache_state;
DROP TABLE cache_outbox;
