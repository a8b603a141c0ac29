package redisstore

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"catalog-bff/store"

	"github.com/redis/go-redis/v9"
)

// The invalidation stream: every Invalidate publishes what it invalidated
// on one Redis Pub/Sub channel, from the same script that sets the markers,
// and every instance's Watch tells its Listener. Pub/Sub delivers only to
// subscribers connected at the time, so a Listener may keep copies only
// while the subscription is up; Watch says when it is lost and when it is
// confirmed again, and what was published in between is never heard.

// channel is the Pub/Sub channel of the cache's invalidations. It carries
// no generation: a generation change resets the Listener anyway.
func (c *Cache) channel() string { return c.opt.Prefix + "invalidations" }

// encodeInvalidations is the message of invs: "kind:id:version", space
// separated.
func encodeInvalidations(invs []store.Invalidation) string {
	var b strings.Builder
	for i, inv := range invs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(inv.Kind))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(inv.ID, 10))
		b.WriteByte(':')
		b.WriteString(strconv.FormatInt(inv.Version, 10))
	}
	return b.String()
}

// parseInvalidations reads a message of encodeInvalidations. It reports
// false for a message it cannot read whole.
func parseInvalidations(msg string) ([]store.Invalidation, bool) {
	fields := strings.Fields(msg)
	invs := make([]store.Invalidation, 0, len(fields))
	for _, f := range fields {
		kind, rest, ok1 := strings.Cut(f, ":")
		id, version, ok2 := strings.Cut(rest, ":")
		i, err1 := strconv.ParseInt(id, 10, 64)
		v, err2 := strconv.ParseInt(version, 10, 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || kind == "" {
			return nil, false
		}
		invs = append(invs, store.Invalidation{Kind: store.Kind(kind), ID: i, Version: v})
	}
	return invs, true
}

// WatchOptions tunes Watch. Zero fields take the defaults.
type WatchOptions struct {
	// Heartbeat is how often a quiet subscription is pinged. One that has
	// not been heard from for three heartbeats is taken as lost. Default
	// 250ms.
	Heartbeat time.Duration
	// Retry is the pause before subscribing again after a loss. Default
	// 100ms.
	Retry time.Duration
}

// Watch follows the invalidation stream until ctx is done: it tells the
// Listener StreamUp(true) each time a subscription is confirmed, each
// invalidation any instance publishes, and StreamUp(false) when the
// subscription fails, or stays silent for three heartbeats (a hung Redis
// or a cut network). It then subscribes again from scratch.
func (c *Cache) Watch(ctx context.Context, opt WatchOptions) {
	if opt.Heartbeat <= 0 {
		opt.Heartbeat = 250 * time.Millisecond
	}
	if opt.Retry <= 0 {
		opt.Retry = 100 * time.Millisecond
	}
	for ctx.Err() == nil {
		c.follow(ctx, opt.Heartbeat)
		c.opt.Listener.StreamUp(false)
		select {
		case <-ctx.Done():
		case <-time.After(opt.Retry):
		}
	}
}

// follow holds one subscription until it is lost or ctx is done.
func (c *Cache) follow(ctx context.Context, heartbeat time.Duration) {
	ps := c.rdb.Subscribe(ctx)
	defer ps.Close()
	if err := ps.Subscribe(ctx, c.channel()); err != nil {
		return
	}
	heard := time.Now()
	for {
		msg, err := ps.ReceiveTimeout(ctx, heartbeat)
		switch {
		case err == nil:
			heard = time.Now()
		case ctx.Err() != nil || !isTimeout(err) || time.Since(heard) > 3*heartbeat:
			return
		default: // quiet: ask for a pong, whose absence ends the subscription
			pctx, cancel := context.WithTimeout(ctx, heartbeat)
			err = ps.Ping(pctx)
			cancel()
			if err != nil {
				return
			}
			continue
		}
		c.deliver(msg)
	}
}

// deliver hands one Pub/Sub message to the Listener. A message that does
// not parse may have named anything: it resets the Listener.
func (c *Cache) deliver(msg any) {
	switch m := msg.(type) {
	case *redis.Subscription:
		if m.Kind == "subscribe" {
			c.opt.Listener.StreamUp(true)
		}
	case *redis.Message:
		if invs, ok := parseInvalidations(m.Payload); ok {
			c.opt.Listener.Invalidated(invs)
		} else {
			c.opt.Listener.Reset()
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
