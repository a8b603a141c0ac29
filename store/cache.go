package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache is the Redis cache in front of the catalogue's SQL reads. It stores
// one entry per document under prefix + kind + ":" + id, for example
// "catalog:v1:product:42". The prefix carries the entry format's version, so
// that a change to a cached document's shape starts with a cold cache instead
// of undecodable entries.
//
// An entry is either a document with the version of its row, or a negative
// entry saying that no row has that id. Documents live for TTL with ±Jitter,
// so that keys filled together do not expire together; negative entries live
// for NegativeTTL. Cache is safe for concurrent use.
type Cache struct {
	rdb redis.UniversalClient
	opt CacheOptions
}

// CacheOptions configures a Cache. Zero fields take the defaults.
type CacheOptions struct {
	Prefix      string        // default "catalog:v1:"
	TTL         time.Duration // default 1h
	Jitter      float64       // fraction of TTL, default 0.1 (±10 %)
	NegativeTTL time.Duration // default 30s
	Timeout     time.Duration // deadline of each call, default 50ms
}

// NewCache returns a cache over rdb.
func NewCache(rdb redis.UniversalClient, opt CacheOptions) *Cache {
	if opt.Prefix == "" {
		opt.Prefix = "catalog:v1:"
	}
	if opt.TTL <= 0 {
		opt.TTL = time.Hour
	}
	if opt.Jitter <= 0 || opt.Jitter >= 1 {
		opt.Jitter = 0.1
	}
	if opt.NegativeTTL <= 0 {
		opt.NegativeTTL = 30 * time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	return &Cache{rdb: rdb, opt: opt}
}

// EntryState says what a cache read found for one key.
type EntryState uint8

// The states of an Entry.
const (
	Miss    EntryState = iota // no entry
	Hit                       // a document, in Data
	Absent                    // a negative entry: no row has this id
	Corrupt                   // an entry that does not decode; treat it as a miss
)

// Entry is what the cache holds for one id.
type Entry struct {
	State   EntryState
	Version int64  // the row's version, for a Hit
	Data    []byte // the encoded document, for a Hit
}

// Fill is one entry to write back: a document (Data) at its row's Version,
// or, when Absent is set, a negative entry.
type Fill struct {
	ID      int64
	Version int64
	Data    []byte
	Absent  bool
}

// Entries are stored as "d:<version>:<document>" or "n:", so that the
// version can be read without decoding the document.
const (
	docTag    = "d:"
	absentTag = "n:"
)

func (c *Cache) key(kind string, id int64) string {
	return c.opt.Prefix + kind + ":" + strconv.FormatInt(id, 10)
}

// Get reads the entries of ids, in order, in one round trip (MGET). On error
// no entry is returned, and the caller should treat every id as a miss.
func (c *Cache) Get(ctx context.Context, kind string, ids []int64) ([]Entry, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.key(kind, id)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("store: cache get %s: %w", kind, err)
	}
	entries := make([]Entry, len(ids))
	for i, v := range vals {
		if s, ok := v.(string); ok {
			entries[i] = decodeEntry([]byte(s))
		}
	}
	return entries, nil
}

func decodeEntry(b []byte) Entry {
	switch {
	case bytes.Equal(b, []byte(absentTag)):
		return Entry{State: Absent}
	case bytes.HasPrefix(b, []byte(docTag)):
		rest := b[len(docTag):]
		i := bytes.IndexByte(rest, ':')
		if i <= 0 {
			return Entry{State: Corrupt}
		}
		v, err := strconv.ParseInt(string(rest[:i]), 10, 64)
		if err != nil || v < 0 {
			return Entry{State: Corrupt}
		}
		return Entry{State: Hit, Version: v, Data: rest[i+1:]}
	default:
		return Entry{State: Corrupt}
	}
}

func encodeEntry(f Fill) []byte {
	if f.Absent {
		return []byte(absentTag)
	}
	b := make([]byte, 0, len(docTag)+20+1+len(f.Data))
	b = append(b, docTag...)
	b = strconv.AppendInt(b, f.Version, 10)
	b = append(b, ':')
	return append(b, f.Data...)
}

// Put writes fills back in one pipelined round trip, documents with the
// jittered TTL and negative entries with the negative TTL. It returns the
// first error of any command.
func (c *Cache) Put(ctx context.Context, kind string, fills []Fill) error {
	if len(fills) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opt.Timeout)
	defer cancel()
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, f := range fills {
			p.Set(ctx, c.key(kind, f.ID), encodeEntry(f), c.ttl(f.Absent))
		}
		return nil
	})
	if err == nil {
		return nil
	}
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("store: cache put %s: %w", kind, err)
		}
	}
	return fmt.Errorf("store: cache put %s: %w", kind, err)
}

// ttl returns a negative entry's TTL, or a document's TTL with jitter.
func (c *Cache) ttl(absent bool) time.Duration {
	if absent {
		return c.opt.NegativeTTL
	}
	j := (rand.Float64()*2 - 1) * c.opt.Jitter
	return time.Duration(float64(c.opt.TTL) * (1 + j))
}

// Purge deletes every entry under the cache's prefix, for example after the
// catalogue was replaced wholesale. It scans, so it is meant for tools, not
// for the request path. It returns how many keys it deleted.
func (c *Cache) Purge(ctx context.Context) (int, error) {
	n := 0
	iter := c.rdb.Scan(ctx, 0, c.opt.Prefix+"*", 1000).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := c.rdb.Del(ctx, batch...).Err()
		n += len(batch)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			if err := flush(); err != nil {
				return n, fmt.Errorf("store: cache purge: %w", err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return n, fmt.Errorf("store: cache purge: %w", err)
	}
	if err := flush(); err != nil {
		return n, fmt.Errorf("store: cache purge: %w", err)
	}
	return n, nil
}
