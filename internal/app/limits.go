package app

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

func (c *Config) setEnv(s string) error {
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
func (c *Config) setCORS(s string) error {
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
func (c Config) check() error {
	l := c.limits
	if l.MaxDepth <= 0 || l.MaxComplexity <= 0 || l.MaxAliases <= 0 || l.MaxTokens <= 0 || l.MaxBodyBytes <= 0 {
		return errors.New("QUERY_MAX_DEPTH, QUERY_MAX_COMPLEXITY, QUERY_MAX_ALIASES, QUERY_MAX_TOKENS and MAX_BODY_BYTES must be positive")
	}
	if c.maxHeaderBytes < 1024 {
		return errors.New("MAX_HEADER_BYTES must be 1024 or more: a request line and a few headers need that")
	}
	return nil
}
