-- The catalogue's identity: a random id, made the first time the service
-- asks for it and replaced when the catalogue is reset. Every Redis key the
-- service writes is scoped by it, so that two catalogues sharing a Redis and
-- a key prefix never see each other's entries or views.

-- +goose Up
CREATE TABLE catalogue (
    id       INT PRIMARY KEY CHECK (id = 1),
    identity TEXT NOT NULL
);

-- +goose Down
DROP TABLE catalogue;
