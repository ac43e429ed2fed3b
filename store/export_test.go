package store

import "database/sql"

// openRaw opens a PostgreSQL connection without migrating (test set-up).
func openRaw(url string) (*sql.DB, error) { return sql.Open("pgx", url) }

// openRawSQLite opens a SQLite file without migrating (test set-up).
func openRawSQLite(path string) (*sql.DB, error) { return sql.Open("sqlite", "file:"+path) }
