package store

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Queue writes issued cards to a Store in the background, through a bounded buffer: the
// CDS answer never waits for the store. When the buffer is full (the store is down or
// slow), cards are dropped and counted (OnDrop); feedback about them is then kept as
// unmatched, and they cannot suppress.
type Queue struct {
	st      Store
	ch      chan []Card
	onDrop  func(n int)
	logger  *slog.Logger
	timeout time.Duration

	mu     sync.RWMutex // guards closed and the close of ch
	closed bool
	done   chan struct{}
}

// QueueOptions configure NewQueue.
type QueueOptions struct {
	// Size is the number of responses buffered (default 1024).
	Size int
	// Timeout bounds one write to the store (default 5 s).
	Timeout time.Duration
	// OnDrop is called with the number of cards dropped (buffer full, or a failed write).
	OnDrop func(n int)
	// Logger receives one line per failed write (slog.Default when nil).
	Logger *slog.Logger
}

// NewQueue starts the writer of st. Close flushes it.
func NewQueue(st Store, o QueueOptions) *Queue {
	if o.Size <= 0 {
		o.Size = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.OnDrop == nil {
		o.OnDrop = func(int) {}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	q := &Queue{st: st, ch: make(chan []Card, o.Size), onDrop: o.OnDrop, logger: o.Logger, timeout: o.Timeout, done: make(chan struct{})}
	go q.run()
	return q
}

// Enqueue hands cards to the writer without blocking; it reports false (and counts the
// drop) when the buffer is full. Enqueue after Close drops.
func (q *Queue) Enqueue(cards []Card) bool {
	if len(cards) == 0 {
		return true
	}
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.onDrop(len(cards))
		return false
	}
	select {
	case q.ch <- cards:
		return true
	default:
		q.onDrop(len(cards))
		return false
	}
}

// run writes batches: what is buffered at once goes in one transaction.
func (q *Queue) run() {
	defer close(q.done)
	for first := range q.ch {
		batch := append([]Card(nil), first...)
	more:
		for len(batch) < 512 {
			select {
			case c, ok := <-q.ch:
				if !ok {
					break more
				}
				batch = append(batch, c...)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		err := q.st.PutCards(ctx, batch)
		cancel()
		if err != nil {
			q.onDrop(len(batch))
			q.logger.Warn("issued cards not stored", "cards", len(batch), "err", err.Error())
		}
	}
}

// Close stops taking cards and waits until the buffered ones are written, or ctx ends.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
