package main

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram: exact below 64 ns, then 64 sub-buckets per power
// of two (relative error under 1.6%). Its size is fixed, so a long run does not grow the load
// generator's own memory (which would blur the server's memory figures when spawned
// in-process). Not safe for concurrent use: one per worker, merged at the end.
type hist struct {
	counts [64 * 48]uint64
	n      uint64
	max    time.Duration
	sum    time.Duration
}

const subBuckets = 64

func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - 7 // v>>shift is in [64, 128)
	return (shift+1)*subBuckets + int(v>>shift) - subBuckets
}

// bucketValue is the upper bound of bucket i.
func bucketValue(i int) uint64 {
	if i < 2*subBuckets {
		return uint64(i)
	}
	shift := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	return (m+1)<<shift - 1
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := bucketOf(uint64(d))
	if i >= len(h.counts) {
		i = len(h.counts) - 1
	}
	h.counts[i]++
	h.n++
	h.sum += d
	if d > h.max {
		h.max = d
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the latency at q (0 < q <= 1), the upper bound of its bucket.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketValue(i))
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}
