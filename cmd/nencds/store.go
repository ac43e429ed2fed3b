package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nencds/nencds/hooks"
	"github.com/nencds/nencds/hooks/telemetry"
	"github.com/nencds/nencds/store"
)

// devDBPath is the SQLite file of -dev without -db: $XDG_STATE_HOME/nencds/dev.db, else
// $HOME/.local/state/nencds/dev.db ("" when neither is set: then -dev keeps the store in
// memory).
func devDBPath(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "nencds", "dev.db")
	}
	if h := getenv("HOME"); h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "nencds", "dev.db")
	}
	return ""
}

// storeConfig resolves and checks the store settings: -db is required outside -dev
// (memory only when said), the pseudonym key is required with PostgreSQL.
func (c *Config) storeConfig(getenv func(string) string) error {
	if c.DB == "" {
		if !c.Dev {
			return fmt.Errorf("a database is required outside -dev: -db sqlite:PATH, -db postgres://... or, on purpose, -db memory (NENCDS_DB)")
		}
		c.DB = "memory"
		if p := devDBPath(getenv); p != "" {
			c.DB = "sqlite:" + p
		}
	}
	switch {
	case c.DB == "memory", strings.HasPrefix(c.DB, "sqlite:"):
	case strings.HasPrefix(c.DB, "postgres://"), strings.HasPrefix(c.DB, "postgresql://"):
		if c.PseudonymKey == "" {
			return fmt.Errorf("-db postgres needs -pseudonym-key (NENCDS_PSEUDONYM_KEY): at least %d random bytes, hex or base64, the same on every replica", store.MinKeyBytes)
		}
	default:
		return fmt.Errorf("-db must be memory, sqlite:PATH or a postgres:// URL")
	}
	key, err := store.ParseKey(c.PseudonymKey)
	if err != nil {
		return fmt.Errorf("-pseudonym-key: %w", err)
	}
	c.key = key
	if c.SuppressDays < 0 {
		return fmt.Errorf("-suppress-days must be 0 (off) or more")
	}
	if c.StoreTimeout <= 0 {
		return fmt.Errorf("-store-timeout must be positive")
	}
	return nil
}

// openStore opens the store of cfg (migrating a SQL database) and sets it, the card
// queue and suppression on opts. close flushes the queue and closes the store.
func openStore(cfg *Config, logger *slog.Logger, tel *telemetry.Telemetry, opts *hooks.Options) (close func() error, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, cfg.DB, store.Options{
		Key:     cfg.key,
		OnEvict: func(n int) { tel.RecordStoreEvicted(context.Background(), n) },
	})
	if err != nil {
		return nil, err
	}
	q := store.NewQueue(st, store.QueueOptions{
		Size:   cfg.CardQueue,
		Logger: logger,
		OnDrop: func(n int) { tel.RecordCardsDropped(context.Background(), n) },
	})
	opts.Store, opts.Cards = st, q
	opts.SuppressFor = time.Duration(cfg.SuppressDays) * 24 * time.Hour
	opts.StoreTimeout = cfg.StoreTimeout
	kind, _, _ := strings.Cut(store.Redact(cfg.DB), ":")
	logger.Info("store open", "db", kind, "suppress_days", cfg.SuppressDays)
	if kind == "memory" && !cfg.Dev {
		logger.Warn("-db memory: feedback and overrides are lost at every restart and not shared between replicas")
	}
	return func() error {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.Close(fctx); err != nil {
			logger.Warn("issued cards not all written at shutdown", "err", err.Error())
		}
		return st.Close()
	}, nil
}
