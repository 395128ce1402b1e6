package fleet

import (
	"testing"
	"time"
)

// Every duration counts in a bucket whose upper bound is above it and at
// most 12.5 % (or 1 µs) higher, and buckets grow with the duration.
func TestLatencyBucketBounds(t *testing.T) {
	prev := 0
	for us := int64(0); us < 1<<34; us = us + 1 + us/7 {
		d := time.Duration(us) * time.Microsecond
		i := LatencyBucket(d)
		if i < prev {
			t.Fatalf("%v: bucket %d after bucket %d for a shorter duration", d, i, prev)
		}
		prev = i
		up := bucketUpper(i)
		if i == LatencyBuckets-1 {
			continue
		}
		if up <= d {
			t.Fatalf("%v in bucket %d, whose upper bound is %v", d, i, up)
		}
		if i > 0 && bucketUpper(i-1) > d {
			t.Fatalf("%v in bucket %d, but bucket %d reaches %v", d, i, i-1, bucketUpper(i-1))
		}
		if float64(up-d) > 0.125*float64(d)+float64(time.Microsecond) {
			t.Fatalf("%v in bucket %d, upper bound %v: more than 12.5%% above", d, i, up)
		}
	}
	if LatencyBucket(-time.Second) != 0 || LatencyBucket(1000*time.Hour) != LatencyBuckets-1 {
		t.Error("durations out of range do not count in the first and last buckets")
	}
}

func TestQuantile(t *testing.T) {
	var f Figures
	if f.Quantile(0.99) != 0 {
		t.Error("the quantile of nothing is not 0")
	}
	for i := 0; i < 990; i++ {
		f.Latency[LatencyBucket(time.Millisecond)]++
	}
	for i := 0; i < 10; i++ {
		f.Latency[LatencyBucket(time.Second)]++
	}
	// The 990th of 1,000 answers took 1 ms; the 991st took 1 s.
	if p := f.Quantile(0.99); p < time.Millisecond || p > 1125*time.Microsecond {
		t.Errorf("p99 = %v, want 1 ms rounded up to its bucket", p)
	}
	if p := f.Quantile(0.995); p < time.Second || p > 1125*time.Millisecond {
		t.Errorf("p99.5 = %v, want 1 s rounded up to its bucket", p)
	}
}

func TestFiguresSub(t *testing.T) {
	var a, b Figures
	a.Requests, a.Errors, a.Latency[3] = 10, 2, 10
	b.Requests, b.Errors, b.Latency[3], b.Latency[5] = 25, 2, 20, 5
	d := b.Sub(a)
	if d.Requests != 15 || d.Errors != 0 || d.Latency[3] != 10 || d.Latency[5] != 5 {
		t.Errorf("Sub = %+v", d.Summary())
	}
	if z := a.Sub(b); z.Requests != 0 || z.Latency[5] != 0 {
		t.Errorf("a reading from before, subtracted, does not give zero: %+v", z.Summary())
	}
	if r := d.Summary().ErrorRate(); r != 0 {
		t.Errorf("error rate %v", r)
	}
	if r := (Summary{Requests: 200, Errors: 3}).ErrorRate(); r != 0.015 {
		t.Errorf("error rate %v, want 0.015", r)
	}
}
