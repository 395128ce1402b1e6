package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// Upgrades under concurrent load lose no request: every request, with and
// without a session, is answered 200 while two upgrades run.
func TestUpgradeUnderLoadLosesNoRequest(t *testing.T) {
	g := startGateway(t, options{instances: 2})
	const workers, perWorker = 8, 250
	sessions := make([]*gwtest.Browser, workers/2)
	for i := range sessions {
		sessions[i] = g.browser()
		sessions[i].Login(fmt.Sprint("user", i))
	}
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range workers {
		client := &http.Client{Timeout: 20 * time.Second}
		if i < len(sessions) {
			client = sessions[i].HTTP
		}
		wg.Go(func() {
			<-start
			for range perWorker {
				resp, err := client.Get(g.url + "/whoami")
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					ok.Add(1)
				}
			}
		})
	}
	close(start)
	for _, rel := range []string{"rel2", "rel1"} {
		time.Sleep(100 * time.Millisecond)
		g.point(rel)
		if msg := g.upgrade(); msg != "" {
			t.Fatalf("upgrade under load failed: %s", msg)
		}
	}
	wg.Wait()
	t.Logf("%d requests answered, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during upgrades; first: %v", failed.Load(), workers*perWorker, firstErr.Load())
	}
	for _, s := range sessions {
		if w := s.Who(); w.Generation != "1" {
			t.Fatalf("a session started before the upgrades: got generation %s, want 1", w.Generation)
		}
	}
}

func TestStreamingThroughTheGateway(t *testing.T) {
	g := startGateway(t, options{})
	resp, err := http.Get(g.url + "/stream?chunks=3&ms=300")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || string(buf[:n]) != "chunk 0\n" {
		t.Fatalf("first chunk: got %q (%v), want %q", buf[:n], err, "chunk 0\n")
	}
	first := time.Now()
	rest, _ := io.ReadAll(resp.Body)
	if string(rest) != "chunk 1\nchunk 2\n" {
		t.Fatalf("rest: got %q", rest)
	}
	// The worker sleeps 300ms between chunks. Had the proxy buffered the
	// stream, the first chunk would have come with the others; a lower
	// bound, so a slow machine cannot fail it.
	if gap := time.Since(first); gap < 400*time.Millisecond {
		t.Fatalf("the rest came %v after the first chunk: the stream was buffered", gap)
	}
}

// A request body goes through to the worker as it is, however large.
func TestRequestBodyThroughTheGateway(t *testing.T) {
	g := startGateway(t, options{})
	body := make([]byte, 4<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	resp, err := http.Post(g.url+"/echo", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("echo of 4 MiB: got %d bytes (%v), want the same 4 MiB back", len(got), err)
	}
}
