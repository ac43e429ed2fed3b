package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

func TestMemoryReplayCache(t *testing.T) {
	t.Parallel()
	clock := newClock()
	c := NewMemoryReplayCache(2, clock.Now)
	ctx := context.Background()
	remember := func(id string, ttl time.Duration) (bool, error) { return c.Remember(ctx, id, ttl) }

	steps := []struct {
		name      string
		id        string
		ttl       time.Duration
		advance   time.Duration // before the call
		wantFresh bool
		wantErr   error
	}{
		{name: "first a", id: "a", ttl: time.Minute, wantFresh: true},
		{name: "a again", id: "a", ttl: time.Minute},
		{name: "first b", id: "b", ttl: 2 * time.Minute, wantFresh: true},
		{name: "full: c refused, nothing evicted early", id: "c", ttl: time.Minute, wantErr: ErrReplayCacheFull},
		{name: "a still remembered", id: "a", ttl: time.Minute},
		{name: "a expired, slot reused", id: "a", ttl: time.Minute, advance: 61 * time.Second, wantFresh: true},
		{name: "b still remembered", id: "b", ttl: time.Minute},
		{name: "b expired; c fits", id: "c", ttl: time.Minute, advance: 60 * time.Second, wantFresh: true},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		fresh, err := remember(s.id, s.ttl)
		if !errors.Is(err, s.wantErr) {
			t.Fatalf("%s: err %v, want %v", s.name, err, s.wantErr)
		}
		if fresh != s.wantFresh {
			t.Fatalf("%s: fresh %v, want %v", s.name, fresh, s.wantFresh)
		}
	}
	if got := c.Len(); got > 2 {
		t.Errorf("Len() = %d, want at most 2", got)
	}
}

func TestMemoryReplayCacheFullRefusesToken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	v, err := NewVerifier(f.cfg, Options{Now: f.clock.Now, ReplayCache: NewMemoryReplayCache(1, f.clock.Now), HTTPClient: f.srv.Client(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, bearer(esTok(t, f.claims(issEHR, audService), nil)), audService); err != nil {
		t.Fatal(err)
	}
	_, err = v.Authenticate(ctx, bearer(esTok(t, f.claims(issEHR, audService), nil)), audService)
	if got := ReasonOf(err); got != ReasonReplayUnavail {
		t.Errorf("full cache: reason %q (%v), want %q", got, err, ReasonReplayUnavail)
	}
}

// redisURL returns the test Redis, or skips: .ci/run starts one and sets the variable.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("NENCDS_TEST_REDIS_URL")
	if u == "" {
		t.Skip("NENCDS_TEST_REDIS_URL is not set: skipping the Redis replay cache tests " +
			"(start one with `redis-server --port 16379 --save ''` and set NENCDS_TEST_REDIS_URL=redis://127.0.0.1:16379/0)")
	}
	return u
}

func uniqueID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestRedisReplayCache(t *testing.T) {
	t.Parallel()
	u := redisURL(t)
	c, err := NewRedisReplayCache(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	id := uniqueID(t)
	if fresh, err := c.Remember(ctx, id, time.Minute); err != nil || !fresh {
		t.Fatalf("first Remember = %v, %v; want true, nil", fresh, err)
	}
	if fresh, err := c.Remember(ctx, id, time.Minute); err != nil || fresh {
		t.Fatalf("second Remember = %v, %v; want false, nil", fresh, err)
	}
	// The key expires with the token (SET NX PX): its TTL is set and bounded.
	opts, _ := redis.ParseURL(u)
	rc := redis.NewClient(opts)
	t.Cleanup(func() { _ = rc.Close() })
	ttl, err := rc.PTTL(ctx, RedisKeyPrefix+id).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL = %v, want in (0, 1m]", ttl)
	}
	// An expired entry no longer blocks (deleted here rather than waited for).
	if err := rc.Del(ctx, RedisKeyPrefix+id).Err(); err != nil {
		t.Fatal(err)
	}
	if fresh, err := c.Remember(ctx, id, time.Minute); err != nil || !fresh {
		t.Fatalf("Remember after expiry = %v, %v; want true, nil", fresh, err)
	}
}

// Two replicas sharing Redis: a token accepted by one is a replay on the other.
func TestRedisReplayAcrossReplicas(t *testing.T) {
	t.Parallel()
	u := redisURL(t)
	f := newFixture(t)
	newReplica := func() *Verifier {
		v, err := NewVerifier(f.cfg, Options{Now: f.clock.Now, HTTPClient: f.srv.Client(), RedisURL: u, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = v.Close() })
		if err := v.Ready(context.Background()); err != nil {
			t.Fatalf("Ready: %v", err)
		}
		return v
	}
	a, b := newReplica(), newReplica()
	c := f.claims(issEHR, audService)
	c["jti"] = "replica-" + uniqueID(t)
	h := bearer(sign(t, jwt.SigningMethodES384, ec384, map[string]any{"kid": "ec-1"}, c))
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, h, audService); err != nil {
		t.Fatalf("replica A: %v", err)
	}
	_, err := b.Authenticate(ctx, h, audService)
	if got := ReasonOf(err); got != ReasonReplay {
		t.Errorf("replica B: reason %q (%v), want %q", got, err, ReasonReplay)
	}
}

func TestRedisUnavailableFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Port 1 on loopback: nothing listens; the token must be refused, not let through.
	v, err := NewVerifier(f.cfg, Options{Now: f.clock.Now, HTTPClient: f.srv.Client(), RedisURL: "redis://127.0.0.1:1/0", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = v.Authenticate(ctx, bearer(esTok(t, f.claims(issEHR, audService), nil)), audService)
	if got := ReasonOf(err); got != ReasonReplayUnavail {
		t.Errorf("reason %q (%v), want %q", got, err, ReasonReplayUnavail)
	}
}

func TestNewRedisReplayCacheHidesURL(t *testing.T) {
	t.Parallel()
	_, err := NewRedisReplayCache("mysql://user:s3cret@db/0")
	if err == nil {
		t.Fatal("accepted a non-Redis URL")
	}
	if got := err.Error(); strings.Contains(got, "s3cret") {
		t.Errorf("error reveals the URL: %q", got)
	}
}

// TestRedisLogsAreJSON: go-redis's own log lines (here: dialling a port where nothing
// listens) reach the verifier's slog logger as JSON records, not plain text on stderr.
func TestRedisLogsAreJSON(t *testing.T) {
	f := newFixture(t)
	buf := &syncBuffer{}
	v, err := NewVerifier(f.cfg, Options{Now: f.clock.Now, HTTPClient: f.srv.Client(), RedisURL: "redis://127.0.0.1:1/0",
		Logger: slog.New(slog.NewJSONHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close(); RedisLogger(quiet) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v.Authenticate(ctx, bearer(esTok(t, f.claims(issEHR, audService), nil)), audService)
	redisLines := 0
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "redis" {
			redisLines++
		}
	}
	if redisLines == 0 {
		t.Errorf("no go-redis record in the verifier's log:\n%s", buf)
	}
}
