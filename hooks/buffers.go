package hooks

import (
	"bytes"
	"io"
	"sync"

	"github.com/gin-gonic/gin"
)

// Buffers of the hot path: a request body is read into a pooled buffer, and an answer is
// rendered into another (render), each given back once the response is written.
//
// Safety of the body pool: the decoded Request keeps sub-slices of the body (Context,
// the Prefetch values) and fhirmap reads them, so a body buffer is given back only when
// the handler has returned and its response (or error) has been written (wrap). Nothing
// that outlives the handler may keep a sub-slice of it: every string taken from it is a
// copy, the goroutines of a call (FHIR reads, the overrides lookup) end before the
// handler returns or hold only strings, and the feedback store keeps strings
// (TestBodyPoolPoisoned overwrites every buffer given back and checks, under -race, that
// answers, store contents and later calls are unchanged). A handler that panics never
// gives its buffer back.

const (
	// bodyPresize bounds the buffer allocated at once from a Content-Length: a client
	// that announces a large body and drips it holds no more than this (beyond, the
	// buffer grows with what arrives, as io.ReadAll does).
	bodyPresize = 256 << 10
	// poolMax bounds the capacity of the buffers kept for reuse: a rare large body is
	// left to the garbage collector.
	poolMax = 1 << 20
)

var bodyPool = sync.Pool{New: func() any { return new([]byte) }}

// bodyKey holds the pooled body buffer of a call on its gin.Context, for wrap to give back.
const bodyKey = "nencds.body"

// readBodyPooled reads at most l.MaxBytes from r (ReadBody's limits and errors) into a
// pooled buffer, pre-sized from size (the Content-Length, -1 when unknown). The buffer
// goes back to the pool through releaseBody, on success and on error alike.
func readBodyPooled(r io.Reader, size int64, l Limits) (buf *[]byte, data []byte, err error) {
	l = l.withDefaults()
	buf = bodyPool.Get().(*[]byte)
	b := (*buf)[:0]
	if size >= 0 && size <= l.MaxBytes && int64(cap(b)) <= size {
		b = make([]byte, 0, min(size+1, bodyPresize))
	}
	b, err = readBody(r, b, size, l)
	*buf = b
	if err != nil {
		return buf, nil, err
	}
	return buf, b, nil
}

// readAll is io.ReadAll appending to b; when b is full it doubles, but never beyond
// size+1 while size (the announced length, -1 when unknown) is ahead of what was read,
// so that a body of the announced length ends in a buffer of its size.
func readAll(r io.Reader, b []byte, size int64) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			n := max(2*cap(b), 512)
			if size >= int64(len(b)) && size+1 < int64(n) {
				n = int(size) + 1
			}
			nb := make([]byte, len(b), n)
			copy(nb, b)
			b = nb
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}

// holdBody records the pooled body buffer of the call for releaseBody.
func holdBody(c *gin.Context, buf *[]byte) { c.Set(bodyKey, buf) }

// releaseBody gives the body buffer of the call back to the pool (onRelease first sees
// it: tests poison it); the handler has returned and its response is written.
func (s *Server) releaseBody(c *gin.Context) {
	v, ok := c.Get(bodyKey)
	if !ok {
		return
	}
	buf, _ := v.(*[]byte)
	if buf == nil {
		return
	}
	c.Set(bodyKey, (*[]byte)(nil))
	if s.onRelease != nil {
		s.onRelease(*buf)
	}
	if cap(*buf) > poolMax {
		return
	}
	*buf = (*buf)[:0]
	bodyPool.Put(buf)
}

var renderPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}
