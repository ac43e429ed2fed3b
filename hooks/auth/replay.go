package auth

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ReplayCache remembers the jti of every accepted token for as long as the token could
// still be accepted, so that each token is accepted once.
type ReplayCache interface {
	// Remember records id for ttl. It returns true if id was new, false if it was
	// already recorded and has not expired. It must be atomic across callers (and,
	// for a shared cache, across replicas).
	Remember(ctx context.Context, id string, ttl time.Duration) (fresh bool, err error)
}

var (
	_ ReplayCache = (*MemoryReplayCache)(nil)
	_ ReplayCache = (*RedisReplayCache)(nil)
)

// replayID is the cache key for a token: a hash of iss and jti, so a jti is unique per
// issuer, keys have a fixed size, and the cache never stores a claim value.
func replayID(iss, jti string) string {
	h := sha256.Sum256([]byte(iss + "\x00" + jti))
	return hex.EncodeToString(h[:])
}

// DefaultReplayCacheSize bounds the in-memory replay cache.
const DefaultReplayCacheSize = 250_000

// ErrReplayCacheFull is returned by MemoryReplayCache when every slot holds an
// unexpired entry; the token is refused rather than an entry evicted early.
var ErrReplayCacheFull = errors.New("replay cache full")

// MemoryReplayCache is a bounded, expiring, in-process ReplayCache. It suits a single
// replica; replicas behind a load balancer need RedisReplayCache.
type MemoryReplayCache struct {
	now func() time.Time
	max int

	mu      sync.Mutex
	entries map[string]time.Time
	byExp   expiryHeap
}

// NewMemoryReplayCache returns a cache holding at most max entries (DefaultReplayCacheSize
// when max <= 0), using now as its clock (time.Now when nil).
func NewMemoryReplayCache(max int, now func() time.Time) *MemoryReplayCache {
	if max <= 0 {
		max = DefaultReplayCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplayCache{now: now, max: max, entries: map[string]time.Time{}}
}

// Remember implements ReplayCache.
func (c *MemoryReplayCache) Remember(_ context.Context, id string, ttl time.Duration) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for len(c.byExp) > 0 && !c.byExp[0].exp.After(now) {
		e := heap.Pop(&c.byExp).(expiryEntry)
		if exp, ok := c.entries[e.id]; ok && exp.Equal(e.exp) {
			delete(c.entries, e.id)
		}
	}
	if exp, ok := c.entries[id]; ok && exp.After(now) {
		return false, nil
	}
	if len(c.entries) >= c.max {
		return false, ErrReplayCacheFull
	}
	exp := now.Add(ttl)
	c.entries[id] = exp
	heap.Push(&c.byExp, expiryEntry{id: id, exp: exp})
	return true, nil
}

// Len returns the number of unexpired-or-not-yet-swept entries.
func (c *MemoryReplayCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

type expiryEntry struct {
	id  string
	exp time.Time
}

type expiryHeap []expiryEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp.Before(h[j].exp) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiryEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// RedisKeyPrefix prefixes every key RedisReplayCache writes.
const RedisKeyPrefix = "nencds:jti:"

// RedisReplayCache is a ReplayCache in Redis (SET key 1 NX PX ttl), shared by every
// replica that points at the same Redis.
type RedisReplayCache struct {
	client *redis.Client
	prefix string
}

// NewRedisReplayCache connects to the Redis at rawURL
// (redis://[user:password@]host:port/db or rediss:// for TLS).
func NewRedisReplayCache(rawURL string) (*RedisReplayCache, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		// The URL may hold a password: do not echo it.
		return nil, errors.New("auth: invalid Redis URL for the replay cache")
	}
	return &RedisReplayCache{client: redis.NewClient(opts), prefix: RedisKeyPrefix}, nil
}

// Remember implements ReplayCache.
func (c *RedisReplayCache) Remember(ctx context.Context, id string, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	ok, err := c.client.SetNX(ctx, c.prefix+id, 1, ttl).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis: %w", err)
	}
	return ok, nil
}

// RedisLogger routes go-redis's own log lines (connection pool and dial trouble, which it
// writes as plain text to stderr by default) to l, at warn level, as one "redis" record
// with the text in "detail", so that the JSON log stays JSON. go-redis has one logger per
// process: the last call wins. NewVerifier calls it with its logger when it uses Redis.
func RedisLogger(l *slog.Logger) {
	if l != nil {
		redis.SetLogger(redisLog{l})
	}
}

type redisLog struct{ l *slog.Logger }

func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis", slog.String("detail", fmt.Sprintf(format, v...)))
}

// Ping checks that Redis answers (for a readiness probe).
func (c *RedisReplayCache) Ping(ctx context.Context) error { return c.client.Ping(ctx).Err() }

// Close closes the connection pool.
func (c *RedisReplayCache) Close() error { return c.client.Close() }
