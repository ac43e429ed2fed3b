package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// PostgresEnv names the PostgreSQL URL of the tests (.ci/run starts a server and sets it).
const PostgresEnv = "NENCDS_TEST_POSTGRES_URL"

var testKey = []byte("0123456789abcdef0123456789abcdef")

type backend struct {
	name string
	open func(t *testing.T) Store
}

// backends are the three backends, each opened empty for one test. PostgreSQL is skipped
// (with a message) only when NENCDS_TEST_POSTGRES_URL is not set.
func backends() []backend {
	return []backend{
		{"memory", func(t *testing.T) Store {
			s, err := NewMemory(Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"sqlite", func(t *testing.T) Store {
			s, err := Open(t.Context(), "sqlite:"+filepath.Join(t.TempDir(), "nencds.db"), Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) Store {
			s, err := Open(t.Context(), postgresSchema(t), Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// postgresSchema returns the test server's URL with a new, empty schema of its own as
// search_path (dropped at the end of the test).
func postgresSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: %s is not set (.ci/run starts a server and sets it)", PostgresEnv)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := openRaw(base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Exec("DROP SCHEMA " + schema + " CASCADE")
		db.Close()
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

func forEach(t *testing.T, f func(t *testing.T, s Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b.open(t))
		})
	}
}

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func card(uuid, patient, topic, fp string, sugg ...Suggestion) Card {
	return Card{Issuer: "https://ehr.test", ServiceID: "nen-patient-view", UUID: uuid, Hook: "patient-view",
		Topic: topic, Indicator: "info", Patient: patient, Fingerprint: fp, Issued: t0, Suggestions: sugg}
}

func fb(uuid, outcome string, at time.Time) Feedback {
	return Feedback{Issuer: "https://ehr.test", ServiceID: "nen-patient-view", Card: uuid, Outcome: outcome,
		OutcomeTime: at, Received: t0.Add(time.Minute)}
}

// TestFeedbackOnce: an item sent twice, or with its instant written in another zone, is
// stored once; a card's topic is found; feedback on an unknown card is kept, unmatched.
func TestFeedbackOnce(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		if err := s.PutCards(ctx, []Card{card("c1", "p", "net-ssa", "f1")}); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(5 * time.Minute)
		paris := at.In(time.FixedZone("CEST", 2*3600))
		got, err := s.PutFeedback(ctx, []Feedback{fb("c1", "overridden", at), fb("c1", "overridden", paris), fb("zz", "overridden", at)})
		if err != nil {
			t.Fatal(err)
		}
		want := []Put{{Created: true, Matched: true, Topic: "net-ssa"}, {Created: false, Matched: true, Topic: "net-ssa"}, {Created: true}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("PutFeedback (-want +got):\n%s", diff)
		}
		got, err = s.PutFeedback(ctx, []Feedback{fb("c1", "overridden", at.Add(time.Nanosecond*1000))})
		if err != nil || !got[0].Created {
			t.Errorf("another instant: %+v, %v", got, err)
		}
		r, err := s.Report(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Unmatched != 1 || len(r.Topics) != 1 || r.Topics[0].Overridden != 2 {
			t.Errorf("report %+v", r)
		}
	})
}

// TestUnmatchedJoinsLater: feedback that arrives before its card (the card queue is
// asynchronous) is counted with its topic once the card is stored.
func TestUnmatchedJoinsLater(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		if _, err := s.PutFeedback(ctx, []Feedback{fb("c1", "overridden", t0)}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutCards(ctx, []Card{card("c1", "p", "net-ssa", "f1")}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Report(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		if r.Unmatched != 0 || len(r.Topics) != 1 || r.Topics[0].Overridden != 1 {
			t.Errorf("report %+v", r)
		}
		ov, err := s.Overrides(ctx, "p", t0)
		if err != nil || len(ov) != 1 {
			t.Errorf("Overrides = %v, %v", ov, err)
		}
	})
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		err := s.PutCards(ctx, []Card{
			card("a", "p1", "net-ssa", "fa"),
			card("b", "p1", "net-prrt", "fb"),
			card("c", "p2", "net-ssa", "fc"),
			card("d", "p1", "nen-workup", "fd"),
		})
		if err != nil {
			t.Fatal(err)
		}
		old := fb("d", "overridden", t0)
		old.Received = t0.Add(-40 * 24 * time.Hour)
		items := []Feedback{fb("a", "overridden", t0), fb("b", "accepted", t0), fb("c", "overridden", t0), old}
		items[1].Accepted = []string{"s1"}
		if _, err := s.PutFeedback(ctx, items); err != nil {
			t.Fatal(err)
		}
		got, err := s.Overrides(ctx, "p1", t0.Add(-30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]Override{{Topic: "net-ssa", Fingerprint: "fa"}}, got); diff != "" {
			t.Errorf("Overrides (-want +got):\n%s", diff)
		}
		if got, _ := s.Overrides(ctx, "p3", time.Time{}); len(got) != 0 {
			t.Errorf("Overrides of another patient: %v", got)
		}
	})
}

func TestReport(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s Store) {
		ctx := t.Context()
		early := card("e", "p", "net-ssa", "f")
		early.Issued = t0.Add(-100 * 24 * time.Hour)
		cards := []Card{
			card("a", "p", "net-ssa", "f", Suggestion{"s1", "Start octreotide LAR"}, Suggestion{"s2", "Start lanreotide"}),
			card("b", "p", "net-ssa", "f", Suggestion{"s3", "Start octreotide LAR"}),
			card("c", "p", "net-ssa", "f"),
			card("d", "p", "nen-workup", "f"),
			early,
		}
		if err := s.PutCards(ctx, cards); err != nil {
			t.Fatal(err)
		}
		acc := fb("a", "accepted", t0)
		acc.Accepted = []string{"s1", "s2"}
		acc2 := fb("b", "accepted", t0)
		acc2.Accepted = []string{"s3"}
		ov := fb("c", "overridden", t0)
		ov.ReasonSystem, ov.ReasonCode, ov.Comment = "https://github.com/nencds/nencds/CodeSystem/override-reason", "patient-declined", "x"
		if _, err := s.PutFeedback(ctx, []Feedback{acc, acc2, ov, fb("d", "overridden", t0)}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Report(ctx, t0.Add(-30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		two, half := 2.0/3, 0.0
		want := &Report{Since: t0.Add(-30 * 24 * time.Hour), Topics: []TopicReport{
			{Topic: "nen-workup", Issued: 1, Overridden: 1, OverrideReasons: map[string]int{UncodedReason: 1}, AcceptanceRate: &half, SuggestionAcceptances: map[string]int{}},
			{Topic: "net-ssa", Issued: 3, Accepted: 2, Overridden: 1, OverrideReasons: map[string]int{"patient-declined": 1}, AcceptanceRate: &two,
				SuggestionAcceptances: map[string]int{"Start octreotide LAR": 2, "Start lanreotide": 1}},
		}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Report (-want +got):\n%s", diff)
		}
	})
}

// TestEmptyReport: no data is an empty list of topics, never null.
func TestEmptyReport(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s Store) {
		r, err := s.Report(t.Context(), t0)
		if err != nil || r.Topics == nil || len(r.Topics) != 0 || r.Unmatched != 0 {
			t.Errorf("Report = %+v, %v", r, err)
		}
	})
}

func TestPseudonym(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s Store) {
		a, b := s.Pseudonym("https://ehr.test", "p1"), s.Pseudonym("https://other.test", "p1")
		if a == b || len(a) != 64 || strings.Contains(a, "p1") || a != s.Pseudonym("https://ehr.test", "p1") {
			t.Errorf("pseudonyms %q %q", a, b)
		}
	})
}

// TestConcurrentWriters: feedback and cards from many goroutines (replicas share one
// database through several connections).
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, s Store) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 20 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				errs <- s.PutCards(t.Context(), []Card{card(fmt.Sprint("c", i), "p", "net-ssa", "f")})
			}()
			go func() {
				defer wg.Done()
				_, err := s.PutFeedback(t.Context(), []Feedback{fb(fmt.Sprint("c", i), "overridden", t0)})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		r, err := s.Report(t.Context(), t0)
		if err != nil || len(r.Topics) != 1 || r.Topics[0].Issued != 20 || r.Topics[0].Overridden != 20 {
			t.Errorf("Report = %+v, %v", r, err)
		}
	})
}

// TestReopen: the SQL backends keep everything across a restart, and migrating twice is
// a no-op.
func TestReopen(t *testing.T) {
	t.Parallel()
	urls := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "x", "nencds.db")}
	if os.Getenv(PostgresEnv) != "" {
		urls["postgres"] = postgresSchema(t)
	}
	for name, url := range urls {
		t.Run(name, func(t *testing.T) {
			s, err := Open(t.Context(), url, Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			s.PutCards(t.Context(), []Card{card("c1", "p", "net-ssa", "f")})
			if _, err := s.PutFeedback(t.Context(), []Feedback{fb("c1", "overridden", t0)}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = Open(t.Context(), url, Options{Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if ov, err := s.Overrides(t.Context(), "p", t0); err != nil || len(ov) != 1 {
				t.Errorf("after reopen: %v, %v", ov, err)
			}
			other := []byte(strings.Repeat("k", 32))
			if _, err := Open(t.Context(), url, Options{Key: other}); err == nil || !strings.Contains(err.Error(), "pseudonym key differs") {
				t.Errorf("another key: %v", err)
			}
			if r, err := Open(t.Context(), url, Options{NoKey: true}); err != nil {
				t.Errorf("NoKey (report): %v", err)
			} else {
				r.Close()
			}
		})
	}
}

// TestPostgresMigrateTogether: replicas starting at once migrate one at a time.
func TestPostgresMigrateTogether(t *testing.T) {
	t.Parallel()
	url := postgresSchema(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(t.Context(), url, Options{Key: testKey})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestPostgresNeedsKey(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "postgres://nencds@127.0.0.1:1/x", Options{})
	if err == nil || !strings.Contains(err.Error(), "pseudonym key is required") {
		t.Errorf("err %v", err)
	}
}

// TestSQLiteRefuses: a file that is not SQLite, a foreign SQLite database and a schema
// newer than the binary are clear errors.
func TestSQLiteRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("this is not a database\n", 400)), 0o600)
	_, err := Open(t.Context(), "sqlite:"+garbage, Options{Key: testKey})
	if err == nil || !strings.Contains(err.Error(), "not a usable SQLite database") && !strings.Contains(err.Error(), "not a database") {
		t.Errorf("garbage: %v", err)
	}

	foreign := filepath.Join(dir, "foreign.db")
	db, err := openRawSQLite(foreign)
	if err != nil {
		t.Fatal(err)
	}
	db.Exec(`CREATE TABLE patients (id TEXT)`)
	db.Close()
	if _, err := Open(t.Context(), "sqlite:"+foreign, Options{Key: testKey}); err == nil || !strings.Contains(err.Error(), "not a nencds store") {
		t.Errorf("foreign: %v", err)
	}

	newer := filepath.Join(dir, "newer.db")
	s, err := Open(t.Context(), "sqlite:"+newer, Options{Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, _ = openRawSQLite(newer)
	if _, err := db.Exec(`INSERT INTO nencds_schema (version, name, applied_us) VALUES (99, '0099_future', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(t.Context(), "sqlite:"+newer, Options{Key: testKey}); err == nil || !strings.Contains(err.Error(), "newer than this nencds knows") {
		t.Errorf("newer: %v", err)
	}
}

// TestSQLiteKeyFile: without a key, one is generated beside the database (owner-only)
// and used again at the next start.
func TestSQLiteKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nencds.db")
	s, err := Open(t.Context(), "sqlite:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p1 := s.Pseudonym("i", "p")
	s.Close()
	for _, f := range []string{path, path + ".key"} {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", f, st.Mode(), err)
		}
	}
	s, err = Open(t.Context(), "sqlite:"+path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Pseudonym("i", "p") != p1 {
		t.Error("the key changed across restarts")
	}
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	for _, d := range []string{"sqlite", "postgres"} {
		m, err := loadMigrations(migrationFS, d)
		if err != nil || len(m) == 0 || m[0].version != 1 {
			t.Errorf("%s: %v, %v", d, m, err)
		}
	}
	gap := fstest.MapFS{
		"migrations/x/0001_a.sql": {Data: []byte("a")},
		"migrations/x/0003_c.sql": {Data: []byte("c")},
	}
	if _, err := loadMigrations(gap, "x"); err == nil || !strings.Contains(err.Error(), "want 2") {
		t.Errorf("gap: %v", err)
	}
	bad := fstest.MapFS{"migrations/x/init.sql": {Data: []byte("a")}}
	if _, err := loadMigrations(bad, "x"); err == nil {
		t.Error("a name without a version was accepted")
	}
}

// TestMemoryByteCap: the memory backend holds at most its byte cap; the oldest items go
// first and every eviction is counted.
func TestMemoryByteCap(t *testing.T) {
	t.Parallel()
	evicted := 0
	m, err := NewMemory(Options{Key: testKey, MemoryMaxBytes: 64 << 10, OnEvict: func(n int) { evicted += n }})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 4096)
	for i := range 100 {
		f := fb(fmt.Sprint("c", i), "overridden", t0)
		f.Comment = big
		if _, err := m.PutFeedback(t.Context(), []Feedback{f}); err != nil {
			t.Fatal(err)
		}
	}
	held, ev := m.Bytes()
	if held > 64<<10 || ev == 0 || int(ev) != evicted {
		t.Errorf("held %d bytes, evicted %d (counted %d)", held, ev, evicted)
	}
	_, n := m.Len()
	if n == 0 || n >= 100 {
		t.Errorf("%d items held", n)
	}
	if got, _ := m.PutFeedback(t.Context(), []Feedback{fb("c99", "overridden", t0)}); got[0].Created {
		t.Error("the newest item was evicted")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	hexKey := strings.Repeat("ab", 32)
	if k, err := ParseKey(hexKey); err != nil || len(k) != 32 {
		t.Errorf("hex: %v %v", k, err)
	}
	if k, err := ParseKey("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="); err != nil || len(k) != 32 {
		t.Errorf("base64: %v %v", k, err)
	}
	if _, err := ParseKey("abcd"); err == nil {
		t.Error("a short key was accepted")
	}
	if _, err := ParseKey("not a key!"); err == nil {
		t.Error("garbage was accepted")
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://nencds:s3cret@db:5432/nencds?sslmode=require": "postgres://nencds:xxxxx@db:5432/nencds?sslmode=require",
		"postgres://db/nencds":      "postgres://db/nencds",
		"sqlite:/var/lib/nencds.db": "sqlite:/var/lib/nencds.db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// blockingStore blocks PutCards until release is closed.
type blockingStore struct {
	Store
	release chan struct{}
	mu      sync.Mutex
	got     int
}

func (b *blockingStore) PutCards(_ context.Context, c []Card) error {
	<-b.release
	b.mu.Lock()
	b.got += len(c)
	b.mu.Unlock()
	return nil
}

// TestQueue: a full queue drops and counts, never blocks; Close writes what is buffered.
func TestQueue(t *testing.T) {
	t.Parallel()
	bs := &blockingStore{release: make(chan struct{})}
	var mu sync.Mutex
	dropped := 0
	q := NewQueue(bs, QueueOptions{Size: 2, OnDrop: func(n int) { mu.Lock(); dropped += n; mu.Unlock() }})
	one := []Card{card("a", "p", "t", "f")}
	accepted := 0
	for range 10 {
		if q.Enqueue(one) {
			accepted++
		}
	}
	mu.Lock()
	d := dropped
	mu.Unlock()
	if accepted+d != 10 || d == 0 || accepted > 3 {
		t.Errorf("accepted %d, dropped %d", accepted, d)
	}
	close(bs.release)
	if err := q.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if bs.got != accepted {
		t.Errorf("%d written, %d accepted", bs.got, accepted)
	}
	if q.Enqueue(one) {
		t.Error("Enqueue after Close")
	}
}

// failingStore fails every write.
type failingStore struct{ Store }

func (failingStore) PutCards(context.Context, []Card) error { return errors.New("down") }

func TestQueueCountsFailedWrites(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	dropped := 0
	q := NewQueue(failingStore{}, QueueOptions{OnDrop: func(n int) { mu.Lock(); dropped += n; mu.Unlock() }})
	q.Enqueue([]Card{card("a", "p", "t", "f"), card("b", "p", "t", "f")})
	q.Close(t.Context())
	if dropped != 2 {
		t.Errorf("dropped %d", dropped)
	}
}
