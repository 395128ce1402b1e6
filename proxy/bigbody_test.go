package proxy

import (
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// Large bodies stream through the gateway in constant memory. The size is
// 256 MiB (64 MiB with -race, still twice maxGrowth), or PROXY_BIG_MIB
// mebibytes:
//
//	PROXY_BIG_MIB=1024 go test -run 'Large' -v ./proxy/
func bigSize(t *testing.T) int64 {
	if testing.Short() {
		t.Skip("large transfer skipped in -short mode")
	}
	mib := int64(256)
	if raceDetector {
		mib = 64
	}
	if s := os.Getenv("PROXY_BIG_MIB"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v <= 0 {
			t.Fatalf("PROXY_BIG_MIB=%q: want a positive number", s)
		}
		mib = v
	}
	return mib << 20
}

// maxGrowth bounds how much the heap in use may grow during a transfer:
// the gateway's buffers, the worker's and the client's are a few hundred
// KiB; a body held in memory would be hundreds of MiB.
const maxGrowth = 32 << 20

var block = []byte(pattern(64 << 10))

// patternReader yields n bytes of block, repeated, from memory it does not
// allocate.
type patternReader struct{ n, off int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	m := copy(p, block[r.off%int64(len(block)):])
	r.off += int64(m)
	r.n -= int64(m)
	return m, nil
}

func patternSum(n int64) uint32 {
	h := crc32.NewIEEE()
	io.Copy(h, &patternReader{n: n})
	return h.Sum32()
}

// memWatch samples the heap in use while a transfer runs.
type memWatch struct {
	base uint64
	stop chan struct{}
	peak chan uint64
}

func watchMemory() *memWatch {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := &memWatch{base: ms.HeapInuse, stop: make(chan struct{}), peak: make(chan uint64)}
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		peak := m.base
		for {
			select {
			case <-m.stop:
				m.peak <- peak
				return
			case <-tick.C:
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	return m
}

// growth stops the sampling and returns the peak growth of the heap.
func (m *memWatch) growth() uint64 {
	close(m.stop)
	return <-m.peak - m.base
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

func TestLargeUploadFlatMemory(t *testing.T) {
	n := bigSize(t)
	want := fmt.Sprintf("%d %08x <nil>", n, patternSum(n))
	e := newEngine(t, ServerOptions{})
	s := httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
		h := crc32.NewIEEE()
		m, err := io.Copy(h, r.Body)
		fmt.Fprintf(w, "%d %08x %v", m, h.Sum32(), err)
	})
	e.use(s.Listener.Addr().String())
	w := dial(t, e.addr)
	w.c.SetDeadline(time.Now().Add(10 * time.Minute))

	mw := watchMemory()
	start := time.Now()
	sent := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(w.c, "POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
		if err == nil {
			_, err = io.Copy(w.c, &patternReader{n: n})
		}
		sent <- err
	}()
	resp, body := w.answer("POST")
	took, growth := time.Since(start), mw.growth()
	if err := <-sent; err != nil {
		t.Fatalf("sending: %v", err)
	}
	if resp.StatusCode != 200 || body != want {
		t.Fatalf("worker read: got %d %q, want 200 %q (bytes, CRC-32, error)", resp.StatusCode, body, want)
	}
	t.Logf("%d MiB up in %v (%.0f MiB/s), heap growth %.1f MiB", n>>20, took, float64(n>>20)/took.Seconds(), mib(growth))
	if growth > maxGrowth {
		t.Fatalf("heap grew by %.1f MiB during the upload, want at most %d MiB", mib(growth), maxGrowth>>20)
	}
}

func TestLargeDownloadFlatMemory(t *testing.T) {
	n := bigSize(t)
	sum := patternSum(n)
	e := newEngine(t, ServerOptions{})
	s := httpWorker(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/length" {
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		}
		io.Copy(w, &patternReader{n: n})
	})
	e.use(s.Listener.Addr().String())
	for _, path := range []string{"/length", "/chunked"} {
		t.Run(path[1:], func(t *testing.T) {
			w := dial(t, e.addr)
			w.c.SetDeadline(time.Now().Add(10 * time.Minute))
			mw := watchMemory()
			start := time.Now()
			w.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp := w.head("GET")
			h := crc32.NewIEEE()
			m, err := io.Copy(h, resp.Body)
			took, growth := time.Since(start), mw.growth()
			if resp.StatusCode != 200 || m != n || err != nil || h.Sum32() != sum {
				t.Fatalf("got %d, %d bytes, CRC-32 %08x, %v; want 200, %d bytes, %08x", resp.StatusCode, m, h.Sum32(), err, n, sum)
			}
			t.Logf("%d MiB down in %v (%.0f MiB/s), heap growth %.1f MiB", n>>20, took, float64(n>>20)/took.Seconds(), mib(growth))
			if growth > maxGrowth {
				t.Fatalf("heap grew by %.1f MiB during the download, want at most %d MiB", mib(growth), maxGrowth>>20)
			}
		})
	}
}
