package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// migration is one embedded schema step: migrations/<dialect>/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the migrations of a dialect, in order; the versions must run
// 1, 2, 3, ... without a gap.
func loadMigrations(fsys fs.FS, dialect string) ([]migration, error) {
	dir := path.Join("migrations", dialect)
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: the name must be NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	for i, m := range out { // ReadDir sorts by name
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: version %d, want %d (no gaps, no duplicates)", m.name, m.version, i+1)
		}
	}
	return out, nil
}

// migrate brings db to the newest embedded schema in one transaction, under the dialect's
// lock (concurrent replicas wait for each other). It refuses a database holding tables
// that are not nencds's without a nencds_schema table (a foreign database), and a schema
// newer than this binary knows.
func migrate(ctx context.Context, db *sql.DB, d *dialect, migs []migration) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if d.lock != "" {
		if _, err := tx.ExecContext(ctx, d.lock); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
	}
	tables, err := listTables(ctx, tx, d)
	if err != nil {
		return err
	}
	if !tables["nencds_schema"] {
		if len(tables) > 0 {
			return fmt.Errorf("the database is not a nencds store: it holds tables (%s) but no nencds_schema table; give nencds an empty database of its own", strings.Join(sortedStrings(tables), ", "))
		}
		if _, err := tx.ExecContext(ctx, `CREATE TABLE nencds_schema (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_us BIGINT NOT NULL)`); err != nil {
			return fmt.Errorf("create nencds_schema: %w", err)
		}
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM nencds_schema`).Scan(&current); err != nil {
		return fmt.Errorf("read the schema version: %w", err)
	}
	if current > len(migs) {
		return fmt.Errorf("the database schema is at version %d, newer than this nencds knows (%d): run a newer nencds, or restore a backup", current, len(migs))
	}
	for _, m := range migs[current:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO nencds_schema (version, name, applied_us) VALUES (?, ?, ?)`),
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return tx.Commit()
}

func listTables(ctx context.Context, tx *sql.Tx, d *dialect) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, d.tables)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

func sortedStrings(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }
