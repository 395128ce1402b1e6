// Command storecmp measures what writing changed pins costs in the pin
// store (proxy/pinstore) and in bbolt, the embedded database the issue
// suggested, on the same changes: a million pins, then batches of changes to
// random pins, each batch one write (one transaction) made durable. It
// prints the time per batch and the bytes each wrote to storage
// (/proc/self/io write_bytes). docs/benchmarks.md "Pin store: log or bbolt"
// has its output. A module of its own, so that the gateway does not depend
// on bbolt.
//
//	cd tests/bench/storecmp && go run . -dir /var/tmp
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gatewayd/gateway/proxy"
	"github.com/gatewayd/gateway/proxy/pinstore"
)

func main() {
	dir := flag.String("dir", "/var/tmp", "a directory on the disk to measure (not tmpfs)")
	pins := flag.Int("pins", 1_000_000, "live pins")
	batch := flag.Int("batch", 2000, "changed pins per write (2000 per 250ms: 8000 logins a second)")
	writes := flag.Int("writes", 20, "writes measured")
	flag.Parse()
	tmp, err := os.MkdirTemp(*dir, "storecmp-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	keys := make([]proxy.SessionKey, *pins)
	for i := range keys {
		binary.LittleEndian.PutUint64(keys[i][:], rand.Uint64())
		binary.LittleEndian.PutUint64(keys[i][8:], rand.Uint64())
	}
	fmt.Printf("%d pins, %d changed pins per write, %d writes, in %s\n\n", *pins, *batch, *writes, *dir)
	fmt.Printf("| store | CPU per write | bytes written per write | bytes per changed pin | file |\n| --- | ---: | ---: | ---: | ---: |\n")
	logStore(tmp, keys, *batch, *writes)
	boltStore(tmp, keys, *batch, *writes)
}

type noRoutes struct{}

func (noRoutes) Routes() *proxy.Routes { return nil }

func logStore(dir string, keys []proxy.SessionKey, batch, writes int) {
	h, _ := proxy.NewHasher(make([]byte, 32))
	p, _ := proxy.New(proxy.Options{Source: noRoutes{}, Hasher: h, Logger: slog.New(slog.DiscardHandler)})
	path := filepath.Join(dir, "bench.pins")
	// Writes come from pokes (Run writes at once when its interval has
	// passed since the last write): each batch is made, then poked, 110ms
	// after the last write.
	s, err := pinstore.Open(pinstore.Options{Path: path, App: "bench", Table: p, Interval: 100 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	all := make([]proxy.Pin, len(keys))
	for i, k := range keys {
		all[i] = proxy.Pin{Key: k, Generation: 1, Instance: 1, LastSeen: now}
	}
	p.RestorePins(all)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	s.Poke() // the first write: the whole table
	for s.Status().LastWrite.IsZero() {
		time.Sleep(10 * time.Millisecond)
	}
	var took time.Duration
	var wrote int64
	for w := range writes {
		moved := make([]proxy.Pin, batch)
		for i := range moved {
			moved[i] = proxy.Pin{Key: keys[rand.IntN(len(keys))], Generation: 2 + w%2, Instance: 1, LastSeen: now}
		}
		time.Sleep(110 * time.Millisecond)
		before, io0 := s.Status().LastWrite, ioWritten()
		p.RestorePins(moved)
		t := cpuTime()
		s.Poke()
		for s.Status().LastWrite.Equal(before) {
			time.Sleep(time.Millisecond)
		}
		took += cpuTime() - t
		wrote += ioWritten() - io0
	}
	stop()
	<-done
	row("pinstore (log)", took, wrote, batch, writes, path)
}

func boltStore(dir string, keys []proxy.SessionKey, batch, writes int) {
	path := filepath.Join(dir, "bench.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	bucket := []byte("pins")
	val := make([]byte, 16)
	for i := 0; i < len(keys); i += 100_000 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			for _, k := range keys[i:min(i+100_000, len(keys))] {
				if err := b.Put(k[:], val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	var took time.Duration
	var wrote int64
	for w := range writes {
		io0, t := ioWritten(), cpuTime()
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			binary.LittleEndian.PutUint32(val, uint32(2+w%2))
			for range batch {
				k := keys[rand.IntN(len(keys))]
				if err := b.Put(k[:], val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
		took += cpuTime() - t
		wrote += ioWritten() - io0
	}
	row("bbolt v1.5.0 (one transaction per write)", took, wrote, batch, writes, path)
}

func row(name string, took time.Duration, wrote int64, batch, writes int, path string) {
	fi, _ := os.Stat(path)
	fmt.Printf("| %s | %.1f ms | %.0f KB | %.0f B | %.0f MB |\n", name, float64(took.Microseconds())/1000/float64(writes),
		float64(wrote)/1000/float64(writes), float64(wrote)/float64(writes*batch), float64(fi.Size())/1e6)
}

// cpuTime is the CPU time this process has used (user and system): what a
// write costs, whether it waits for a tick or not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ioWritten is what this process has sent to storage so far.
func ioWritten() int64 {
	b, _ := os.ReadFile("/proc/self/io")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
