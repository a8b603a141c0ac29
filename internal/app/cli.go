package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"catalog-bff/store/redisstore"
	"catalog-bff/store/sqlstore"
)

// The command line: catalog-bff [serve] [flags], catalog-bff seed [flags].
// -h prints what a command takes and is not an error; an unknown command
// or a stray argument is a UsageError.

// commands are the subcommands, the first the default.
var commands = []struct{ name, doc string }{
	{"serve", "serve /query and the playground (the default)"},
	{"seed", "fill the configured database with a demo catalogue"},
}

// Run is the whole program: it runs the command args name until ctx is
// done. Tests call it directly.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	name, rest := "serve", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, rest = args[0], args[1:]
	}
	switch name {
	case "serve":
		return runServe(ctx, rest, getenv, stderr)
	case "seed":
		return runSeed(ctx, rest, getenv, stderr)
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return usageErrorf("unknown command %q: the commands are %s (catalog-bff -h says more)", name, strings.Join(names, ", "))
}

// serveUsage is catalog-bff -h: the commands, then every setting.
func serveUsage(w io.Writer) func() {
	return func() {
		fmt.Fprintln(w, "catalog-bff serves product detail pages over GraphQL.")
		fmt.Fprintln(w, "\nUsage:\n  catalog-bff [command] [flags]\n\nCommands:")
		for _, c := range commands {
			fmt.Fprintf(w, "  %-6s %s\n", c.name, c.doc)
		}
		fmt.Fprintln(w, "\nRun catalog-bff <command> -h for a command's own flags.")
		fmt.Fprintln(w, "\nSettings: each environment variable, and the flag that overrides it:")
		printSettings(w)
	}
}

// runSeed is `catalog-bff seed`: it fills the configured database. Its
// flags are its own; the database and Redis come from the settings
// (DATABASE_URL, REDIS_URL, REDIS_PREFIX).
func runSeed(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("catalog-bff seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	products := fs.Int("products", 1000, "products to create")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same catalogue")
	reset := fs.Bool("reset", false, "replace a catalogue that is not empty, and purge its cache")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: catalog-bff seed [-products N] [-seed N] [-reset]")
		fmt.Fprintln(stderr, "\nFills DATABASE_URL with a demo catalogue (catalog-bff -h lists the settings).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return usageErrorf("seed: unexpected argument %q", fs.Arg(0))
	}
	c, _, err := ParseConfig("catalog-bff", nil, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c.production, stderr)
	db, err := openDB(ctx, c.databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	old, err := db.Catalogue(ctx) // a reset replaces it; its keys are purged after
	if err != nil {
		return err
	}
	start := time.Now()
	err = db.Seed(ctx, sqlstore.SeedOptions{Products: *products, Seed: *seed, Reset: *reset})
	if errors.Is(err, sqlstore.ErrNotEmpty) {
		return fmt.Errorf("seed: %w: add -reset to replace it", sqlstore.ErrNotEmpty)
	}
	if err != nil {
		return err
	}
	log.Info("seeded", "products", *products, "took", time.Since(start).Round(time.Millisecond))
	if *reset {
		c.redisPrefix = sqlstore.CatalogueKeyPrefix(c.redisPrefix, old)
		purgeCache(ctx, c, log)
	}
	return nil
}

// purgeCache drops every cache entry and view count under c.redisPrefix,
// the old catalogue's after a reset: the new catalogue has its own
// identity, so its instances never read them, but an instance still
// running on the old identity would until it restarts, and they take
// memory until they expire.
func purgeCache(ctx context.Context, c Config, log *slog.Logger) {
	if c.redisURL == "off" {
		return
	}
	rdb, err := redisstore.NewRedis(c.redisURL, redisstore.RedisOptions{Timeout: time.Second})
	if err != nil {
		log.Warn("cache not purged after reset", "err", err)
		return
	}
	defer rdb.Close()
	n, err := redisstore.NewCache(rdb, redisstore.CacheOptions{Prefix: c.redisPrefix + "v1:"}).Purge(ctx)
	if err != nil {
		log.Warn("cache not purged after reset; entries of the old catalogue may be served until they expire", "err", err)
		return
	}
	m, err := redisstore.NewRedisViews(rdb, redisstore.RedisViewsOptions{Prefix: c.redisPrefix}).Reset(ctx)
	if err != nil {
		log.Warn("view counts not reset; the old catalogue's counts may be shown until they expire", "err", err)
		return
	}
	log.Info("cache and view counts purged after reset", "keys", n+m)
}
