package fleet

import (
	"math"
	"math/bits"
	"time"
)

// Figures are the answers of one generation counted from when it started
// to be counted: requests, 5xx answers and a latency histogram. Readings
// only grow, so two of them subtract (Sub) into the figures of the span
// between them: what a canary's trial compares its numbers over.
type Figures struct {
	Requests uint64
	Errors   uint64 // 5xx answers, the gateway's own (502, 504) included
	Latency  [LatencyBuckets]uint64
}

// Latency buckets are log-linear in microseconds, as HDR histograms are:
// eight per power of two, so that a quantile read from them is at most
// 12.5 % above the true value, from 1 µs to about 2.4 hours (longer
// answers count in the last bucket). 2 KiB per generation.
const (
	subBuckets     = 8
	subBits        = 3 // log2(subBuckets)
	LatencyBuckets = subBuckets * 32
)

// LatencyBucket is the bucket d counts in.
func LatencyBucket(d time.Duration) int {
	us := uint64(max(d/time.Microsecond, 0))
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 1 // >= subBits
	i := subBuckets*(exp-subBits+1) + int(us>>(exp-subBits)&(subBuckets-1))
	return min(i, LatencyBuckets-1)
}

// bucketUpper is the smallest duration above every one that counts in
// bucket i.
func bucketUpper(i int) time.Duration {
	if i < subBuckets {
		return time.Duration(i+1) * time.Microsecond
	}
	exp := i/subBuckets + subBits - 1
	sub := uint64(i % subBuckets)
	return time.Duration((subBuckets+sub+1)<<(exp-subBits)) * time.Microsecond
}

// Sub is the figures of the span from earlier to f. A reading taken from
// a counter that started again (a generation number reused) is not
// earlier: what would go negative is taken as zero.
func (f Figures) Sub(earlier Figures) Figures {
	d := Figures{Requests: sat(f.Requests, earlier.Requests), Errors: sat(f.Errors, earlier.Errors)}
	for i := range f.Latency {
		d.Latency[i] = sat(f.Latency[i], earlier.Latency[i])
	}
	return d
}

func sat(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Quantile is the latency below which the fraction q of the answers came,
// rounded up to its bucket's upper bound; 0 with no answer.
func (f Figures) Quantile(q float64) time.Duration {
	var n uint64
	for _, c := range f.Latency {
		n += c
	}
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, c := range f.Latency {
		if seen += c; seen >= rank {
			return bucketUpper(i)
		}
	}
	return bucketUpper(LatencyBuckets - 1)
}

// Summary is the figures as the console, status and the canary's judge
// read them.
func (f Figures) Summary() Summary {
	return Summary{Requests: f.Requests, Errors: f.Errors, P99: f.Quantile(0.99)}
}

// Summary is a generation's answers over a span, in the terms a canary is
// judged in.
type Summary struct {
	Requests uint64
	Errors   uint64        // 5xx
	P99      time.Duration // 0 with no answer
}

// ErrorRate is the fraction of answers that were 5xx; 0 with none.
func (s Summary) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}
