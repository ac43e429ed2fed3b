package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite" (pure Go)
)

// dialect is what differs between the SQL backends.
type dialect struct {
	name   string
	driver string
	// lock, when set, is run first in the migration transaction (PostgreSQL: an advisory
	// lock, so that replicas starting together migrate one at a time).
	lock string
	// tables lists the tables of the database (its current schema).
	tables string
	// dollar: placeholders are $1, $2, ... instead of ?.
	dollar bool
}

var (
	sqliteDialect = &dialect{
		name: "sqlite", driver: "sqlite",
		tables: `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
	}
	postgresDialect = &dialect{
		name: "postgres", driver: "pgx", dollar: true,
		lock:   `SELECT pg_advisory_xact_lock(7036832011)`,
		tables: `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`,
	}
)

// rebind turns the ? placeholders of q into the dialect's.
func (d *dialect) rebind(q string) string {
	if !d.dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// SQL is the backend of SQLite and PostgreSQL.
type SQL struct {
	pseudonymizer
	db *sql.DB
	d  *dialect

	putCard, fillPatient, insFeedback, cardTopic, overrides string

	// group, when set (SQLite), takes the feedback calls to the one writer goroutine,
	// which commits what is waiting in one transaction (group commit: one fsync for many
	// calls; each call is answered after the commit that holds its items).
	group     chan feedbackJob
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// feedbackJob is one PutFeedback call waiting for the group commit.
type feedbackJob struct {
	items []Feedback
	reply chan feedbackReply
}

type feedbackReply struct {
	puts []Put
	err  error
}

// maxGroup caps the calls of one group commit.
const maxGroup = 64

var _ Store = (*SQL)(nil)

func newSQL(db *sql.DB, d *dialect, key []byte) *SQL {
	return &SQL{
		pseudonymizer: pseudonymizer{key: key}, db: db, d: d,
		putCard: d.rebind(`INSERT INTO issued_cards (issuer, service_id, card_uuid, hook, topic, indicator, patient, fingerprint, issued_us, suggestions)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		fillPatient: d.rebind(`UPDATE feedback SET patient = ? WHERE issuer = ? AND service_id = ? AND card_uuid = ? AND patient = ''`),
		insFeedback: d.rebind(`INSERT INTO feedback (issuer, service_id, card_uuid, outcome, outcome_at, accepted, reason_system, reason_code, user_comment, received_us, patient)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		cardTopic: d.rebind(`SELECT topic, patient FROM issued_cards WHERE issuer = ? AND service_id = ? AND card_uuid = ?`),
		// From the patient's feedback (index feedback_patient), not from every card issued.
		overrides: d.rebind(`SELECT DISTINCT c.topic, c.fingerprint FROM feedback f
			JOIN issued_cards c ON c.issuer = f.issuer AND c.service_id = f.service_id AND c.card_uuid = f.card_uuid
			WHERE f.patient = ? AND f.outcome = 'overridden' AND f.received_us >= ?`),
	}
}

// openSQLite opens (creating when absent) the SQLite file at path.
func openSQLite(ctx context.Context, path string, o Options) (*SQL, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
		}
	}
	// Create the file private to the service before SQLite creates it world-readable.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
	} else {
		f.Close()
	}
	key := o.Key
	if len(key) == 0 && !o.NoKey {
		var err error
		if key, err = keyFile(path + ".key"); err != nil {
			return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
		}
	}
	// WAL with synchronous=FULL: a commit is on disk before it returns (feedback is
	// acknowledged after its commit); busy_timeout waits for another writer; every
	// transaction starts as a writer (BEGIN IMMEDIATE), so that none has to upgrade.
	dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: sqlite %s: not a usable SQLite database (corrupt, or another kind of file?): %w", path, err)
	}
	s, err := finishOpen(ctx, db, sqliteDialect, key, o.NoKey)
	if err != nil {
		return nil, fmt.Errorf("store: sqlite %s: %w", path, err)
	}
	// One writer at a time in SQLite: feedback calls are group-committed.
	s.group, s.quit, s.done = make(chan feedbackJob), make(chan struct{}), make(chan struct{})
	go s.groupWriter()
	return s, nil
}

// keyFile reads the pseudonym key kept in path, or creates it with a new random key.
func keyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, 32)
		rand.Read(key)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("pseudonym key file: %w", err)
		}
		if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
			f.Close()
			return nil, fmt.Errorf("pseudonym key file: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("pseudonym key file: %w", err)
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("pseudonym key file: %w", err)
	}
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("pseudonym key file %s: %w", path, err)
	}
	if key == nil {
		return nil, fmt.Errorf("pseudonym key file %s is empty", path)
	}
	return key, nil
}

// openPostgres connects to PostgreSQL; the pseudonym key must be given.
func openPostgres(ctx context.Context, url string, o Options) (*SQL, error) {
	if len(o.Key) == 0 && !o.NoKey {
		return nil, fmt.Errorf("store: postgres: a pseudonym key is required (-pseudonym-key or NENCDS_PSEUDONYM_KEY: at least %d bytes, hex or base64); every replica needs the same key", MinKeyBytes)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", Redact(url), err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: postgres %s: cannot connect: %w", Redact(url), err)
	}
	s, err := finishOpen(ctx, db, postgresDialect, o.Key, o.NoKey)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %w", Redact(url), err)
	}
	return s, nil
}

// finishOpen migrates db and checks the pseudonym key against the one the database was
// first written with.
func finishOpen(ctx context.Context, db *sql.DB, d *dialect, key []byte, noKey bool) (*SQL, error) {
	if !noKey {
		if _, err := checkKey(key); err != nil {
			db.Close()
			return nil, err
		}
	}
	migs, err := loadMigrations(migrationFS, d.name)
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db, d, migs); err != nil {
		db.Close()
		return nil, err
	}
	s := newSQL(db, d, key)
	if !noKey {
		if err := s.checkKey(ctx); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// checkKey records the key check value in a new database, and compares it otherwise.
func (s *SQL) checkKey(ctx context.Context) error {
	want := s.keyCheck()
	if _, err := s.db.ExecContext(ctx, s.d.rebind(`INSERT INTO nencds_meta (name, value) VALUES ('pseudonym_key_check', ?) ON CONFLICT DO NOTHING`), want); err != nil {
		return fmt.Errorf("pseudonym key check: %w", err)
	}
	var got string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM nencds_meta WHERE name = 'pseudonym_key_check'`).Scan(&got); err != nil {
		return fmt.Errorf("pseudonym key check: %w", err)
	}
	if got != want {
		return fmt.Errorf("the pseudonym key differs from the key this database was written with: every patient pseudonym would change (suppression lost); give the original key")
	}
	return nil
}

// PutCards implements Store.
func (s *SQL) PutCards(ctx context.Context, cards []Card) error {
	if len(cards) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return unavailable(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.putCard)
	if err != nil {
		return unavailable(err)
	}
	defer stmt.Close()
	fill, err := tx.PrepareContext(ctx, s.fillPatient)
	if err != nil {
		return unavailable(err)
	}
	defer fill.Close()
	for _, c := range cards {
		sugg, _ := json.Marshal(nonNil(c.Suggestions))
		if _, err := stmt.ExecContext(ctx, c.Issuer, c.ServiceID, c.UUID, c.Hook, c.Topic, c.Indicator, c.Patient,
			c.Fingerprint, c.Issued.UnixMicro(), string(sugg)); err != nil {
			return unavailable(err)
		}
		// Feedback that came before its card (the card queue is asynchronous).
		if _, err := fill.ExecContext(ctx, c.Patient, c.Issuer, c.ServiceID, c.UUID); err != nil {
			return unavailable(err)
		}
	}
	return unavailable(tx.Commit())
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// PutFeedback implements Store.
func (s *SQL) PutFeedback(ctx context.Context, items []Feedback) ([]Put, error) {
	if s.group == nil {
		puts, err := s.putFeedback(ctx, [][]Feedback{items})
		if err != nil {
			return nil, err
		}
		return puts[0], nil
	}
	job := feedbackJob{items: items, reply: make(chan feedbackReply, 1)}
	select {
	case s.group <- job:
	case <-s.quit:
		return nil, unavailable(errors.New("store closed"))
	case <-ctx.Done():
		return nil, unavailable(ctx.Err())
	}
	select {
	case r := <-job.reply:
		return r.puts, r.err
	case <-ctx.Done():
		// The items may still be committed: a retry is stored once.
		return nil, unavailable(ctx.Err())
	}
}

// groupWriter is the one writer of feedback (SQLite): it commits the calls waiting
// together, then answers each.
func (s *SQL) groupWriter() {
	defer close(s.done)
	for {
		var jobs []feedbackJob
		select {
		case j := <-s.group:
			jobs = append(jobs, j)
		case <-s.quit:
			return
		}
	more:
		for len(jobs) < maxGroup {
			select {
			case j := <-s.group:
				jobs = append(jobs, j)
			default:
				break more
			}
		}
		batches := make([][]Feedback, len(jobs))
		for i, j := range jobs {
			batches[i] = j.items
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		puts, err := s.putFeedback(ctx, batches)
		cancel()
		for i, j := range jobs {
			if err != nil {
				j.reply <- feedbackReply{err: err}
			} else {
				j.reply <- feedbackReply{puts: puts[i]}
			}
		}
	}
}

// putFeedback stores batches of items in one transaction; the results are per batch.
func (s *SQL) putFeedback(ctx context.Context, batches [][]Feedback) ([][]Put, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, s.insFeedback)
	if err != nil {
		return nil, unavailable(err)
	}
	defer ins.Close()
	sel, err := tx.PrepareContext(ctx, s.cardTopic)
	if err != nil {
		return nil, unavailable(err)
	}
	defer sel.Close()
	out := make([][]Put, len(batches))
	for b, items := range batches {
		out[b] = make([]Put, len(items))
		for i, f := range items {
			p := &out[b][i]
			var patient string
			err := sel.QueryRowContext(ctx, f.Issuer, f.ServiceID, f.Card).Scan(&p.Topic, &patient)
			switch {
			case err == nil:
				p.Matched = true
			case errors.Is(err, sql.ErrNoRows):
			default:
				return nil, unavailable(err)
			}
			acc, _ := json.Marshal(nonNil(f.Accepted))
			res, err := ins.ExecContext(ctx, f.Issuer, f.ServiceID, f.Card, f.Outcome, outcomeKey(f.OutcomeTime),
				string(acc), f.ReasonSystem, f.ReasonCode, f.Comment, f.Received.UnixMicro(), patient)
			if err != nil {
				return nil, unavailable(err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return nil, unavailable(err)
			}
			p.Created = n > 0
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, unavailable(err)
	}
	return out, nil
}

// Overrides implements Store.
func (s *SQL) Overrides(ctx context.Context, patient string, since time.Time) ([]Override, error) {
	rows, err := s.db.QueryContext(ctx, s.overrides, patient, since.UnixMicro())
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	var out []Override
	for rows.Next() {
		var o Override
		if err := rows.Scan(&o.Topic, &o.Fingerprint); err != nil {
			return nil, unavailable(err)
		}
		out = append(out, o)
	}
	return out, unavailable(rows.Err())
}

// Report implements Store.
func (s *SQL) Report(ctx context.Context, since time.Time) (*Report, error) {
	b := newReportBuilder(since)
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT topic, COUNT(*) FROM issued_cards WHERE issued_us >= ? GROUP BY topic`), since.UnixMicro())
	if err != nil {
		return nil, unavailable(err)
	}
	for rows.Next() {
		var topic string
		var n int
		if err := rows.Scan(&topic, &n); err != nil {
			rows.Close()
			return nil, err
		}
		b.issued(topic, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = s.db.QueryContext(ctx, s.d.rebind(`SELECT c.topic, c.suggestions, f.outcome, f.reason_code, f.accepted
		FROM feedback f LEFT JOIN issued_cards c
		ON c.issuer = f.issuer AND c.service_id = f.service_id AND c.card_uuid = f.card_uuid
		WHERE f.received_us >= ?`), since.UnixMicro())
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	for rows.Next() {
		var topic, sugg sql.NullString
		var outcome, reason, accepted string
		if err := rows.Scan(&topic, &sugg, &outcome, &reason, &accepted); err != nil {
			return nil, err
		}
		var acc []string
		var ss []Suggestion
		_ = json.Unmarshal([]byte(accepted), &acc)
		if sugg.Valid {
			_ = json.Unmarshal([]byte(sugg.String), &ss)
		}
		b.feedback(topic.Valid, topic.String, outcome, reason, acc, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return b.report(), nil
}

// Ping implements Store.
func (s *SQL) Ping(ctx context.Context) error { return unavailable(s.db.PingContext(ctx)) }

// Close implements Store.
func (s *SQL) Close() error {
	if s.quit != nil {
		s.closeOnce.Do(func() { close(s.quit) })
		<-s.done
	}
	return s.db.Close()
}

// unavailable marks err (when not nil) as ErrUnavailable.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
