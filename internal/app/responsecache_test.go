package app

import (
	"io"
	"strings"
	"testing"
	"time"

	"catalog-bff/internal/telemetry"
	"catalog-bff/store"
)

// The response cache's settings come from the environment, flags override
// them, and bad values are errors that name the variable.
func TestResponseCacheConfig(t *testing.T) {
	none := func(string) string { return "" }
	c, _, err := ParseConfig("t", nil, none, io.Discard)
	want := responseCacheConfig{size: 10000, maxBytes: 64 << 20, maxAge: 5 * time.Second, maxStaleness: time.Minute,
		hitsStaleness: time.Second}
	if err != nil || c.respCache != want {
		t.Errorf("defaults: %+v, %v", c.respCache, err)
	}
	env := map[string]string{"RESPONSE_CACHE_SIZE": "50", "RESPONSE_CACHE_MAX_BYTES": "4096",
		"RESPONSE_CACHE_MAX_AGE": "2s", "RESPONSE_CACHE_MAX_STALENESS": "3s", "HITS_MAX_STALENESS": "0"}
	c, _, err = ParseConfig("t", []string{"-response-cache-size", "0"}, func(k string) string { return env[k] }, io.Discard)
	want = responseCacheConfig{size: 0, maxBytes: 4096, maxAge: 2 * time.Second, maxStaleness: 3 * time.Second}
	if err != nil || c.respCache != want {
		t.Errorf("env and flags: %+v, %v", c.respCache, err)
	}
	for key, bad := range map[string]string{"RESPONSE_CACHE_SIZE": "-1", "RESPONSE_CACHE_MAX_AGE": "0s", "RESPONSE_CACHE_MAX_STALENESS": "0s", "HITS_MAX_STALENESS": "soon"} {
		env := func(k string) string { return map[string]string{key: bad}[k] }
		if _, _, err := ParseConfig("t", nil, env, io.Discard); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%s: %v", key, bad, err)
		}
	}
}

// The response cache is off without an invalidation feed, or with size 0.
func TestResponseCacheNeedsFeed(t *testing.T) {
	tel := telemetry.New(telemetry.Options{})
	c := responseCacheConfig{size: 10, maxBytes: 1 << 20, maxAge: time.Second, maxStaleness: time.Second}
	if rc := newResponseCache(c, nil, nil, tel, nil); rc != nil {
		t.Error("a response cache without a feed")
	}
	feed := &stillFeed{}
	if rc := newResponseCache(responseCacheConfig{maxBytes: 1, maxAge: time.Second, maxStaleness: time.Second}, feed, nil, tel, nil); rc != nil {
		t.Error("a response cache of size 0")
	}
	rc := newResponseCache(c, feed, nil, tel, nil)
	if rc == nil || !feed.subscribed {
		t.Fatal("no response cache subscribed to the feed")
	}
	rc.Close()
}

type stillFeed struct{ subscribed bool }

func (f *stillFeed) Subscribe(func(store.Kind, int64), func()) { f.subscribed = true }
func (*stillFeed) Seq() uint64                                 { return 0 }
func (*stillFeed) Live() bool                                  { return true }
