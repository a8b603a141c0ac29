package main

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// parseLimits adds production mode, CORS and the query limits to fs, with
// the environment's values as defaults.
func parseLimits(fs *flag.FlagSet, c *config, env func(key, def string) string) error {
	if err := c.setEnv(env("CATALOG_ENV", "development")); err != nil {
		return fmt.Errorf("CATALOG_ENV: %w", err)
	}
	fs.Func("env", "development or production (CATALOG_ENV)", c.setEnv)
	if err := c.setCORS(env("CORS_ORIGINS", "")); err != nil {
		return fmt.Errorf("CORS_ORIGINS: %w", err)
	}
	fs.Func("cors-origins", "comma-separated origins whose pages may call /query (CORS_ORIGINS)", c.setCORS)
	l := &c.limits
	for _, v := range []struct {
		dst       *int
		flag, key string
		def       int64
		usage     string
	}{
		{&l.MaxDepth, "query-max-depth", "QUERY_MAX_DEPTH", 10, "deepest nesting of fields"},
		{&l.MaxComplexity, "query-max-complexity", "QUERY_MAX_COMPLEXITY", 5000, "highest complexity of an operation"},
		{&l.MaxAliases, "query-max-aliases", "QUERY_MAX_ALIASES", 30, "most aliases in an operation"},
		{&l.MaxTokens, "query-max-tokens", "QUERY_MAX_TOKENS", 5000, "most tokens in a query"},
	} {
		n, err := strconv.Atoi(env(v.key, strconv.FormatInt(v.def, 10)))
		if err != nil {
			return fmt.Errorf("%s: %w", v.key, err)
		}
		fs.IntVar(v.dst, v.flag, n, v.usage+" ("+v.key+")")
	}
	n, err := strconv.ParseInt(env("MAX_BODY_BYTES", "65536"), 10, 64)
	if err != nil {
		return fmt.Errorf("MAX_BODY_BYTES: %w", err)
	}
	fs.Int64Var(&l.MaxBodyBytes, "max-body-bytes", n, "largest request body, in bytes (MAX_BODY_BYTES)")
	return parseOverload(fs, c, env)
}

func (c *config) setEnv(s string) error {
	switch s {
	case "production", "development":
		c.production = s == "production"
		return nil
	}
	return fmt.Errorf("%q: want development or production", s)
}

// setCORS parses a comma-separated list of origins: "*", or scheme://host
// with an optional port and at most one "*" in the host. An origin with a
// path or without a scheme would never match a browser's Origin header,
// so it is an error rather than a silent no.
func (c *config) setCORS(s string) error {
	c.corsOrigins = nil
	for o := range strings.SplitSeq(s, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		u, err := url.Parse(strings.Replace(o, "*", "x", 1))
		if o != "*" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.Path != "" || u.RawQuery != "" || strings.Count(o, "*") > 1) {
			return fmt.Errorf("%q: want * or scheme://host[:port]", o)
		}
		c.corsOrigins = append(c.corsOrigins, o)
	}
	return nil
}

// check refuses limits that would refuse every request.
func (c config) check() error {
	l := c.limits
	if l.MaxDepth <= 0 || l.MaxComplexity <= 0 || l.MaxAliases <= 0 || l.MaxTokens <= 0 || l.MaxBodyBytes <= 0 {
		return errors.New("QUERY_MAX_DEPTH, QUERY_MAX_COMPLEXITY, QUERY_MAX_ALIASES, QUERY_MAX_TOKENS and MAX_BODY_BYTES must be positive")
	}
	return nil
}
