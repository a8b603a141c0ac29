// Package sqlstore is the catalogue's SQL storage, on PostgreSQL or the
// embedded SQLite: the batched reads of the loaders (one IN query per
// table), the admin writes (one transaction each, which queues its
// invalidations in the outbox), the view counter's flush, the migrations
// (goose) and the seed data. Statements are counted, and observed for the
// metrics and traces. It knows nothing of Redis.
package sqlstore
