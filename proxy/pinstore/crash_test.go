package pinstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const childPathEnv = "PINSTORE_CRASH_CHILD_PATH"

// TestKillNineLosesAtMostTheLastWrite kills a process with SIGKILL while it
// writes pins as fast as it can (appends and compactions), at spread-out
// instants, and opens what it left. Every pin the child knew to be on disk
// (see crashChild) must be there, and nothing it never made.
func TestKillNineLosesAtMostTheLastWrite(t *testing.T) {
	if os.Getenv(childPathEnv) != "" {
		crashChild()
		return
	}
	compactions := 0
	for run := range 8 {
		path := filepath.Join(t.TempDir(), "notes.pins")
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillNineLosesAtMostTheLastWrite$")
		cmd.Env = append(os.Environ(), childPathEnv+"="+path)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		durable, made, compacted := 0, 0, 0
		read := func(line string) {
			var a, b, c int
			if _, err := fmt.Sscanf(line, "durable %d made %d compactions %d", &a, &b, &c); err == nil {
				durable, made, compacted = a, b, c
			}
		}
		for line := range lines { // until the child has written something
			if read(line); durable > 0 {
				break
			}
		}
		kill := time.After(time.Duration(50+run*60) * time.Millisecond)
	wait:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatal("the child ended by itself")
				}
				read(line)
			case <-kill:
				cmd.Process.Kill()
				break wait
			}
		}
		for line := range lines { // lines written before the kill
			read(line)
		}
		cmd.Wait()
		compactions += compacted - 1 // the first one creates the file
		got := pinsOf(t, path)
		for i := range durable {
			if pn, ok := got[key(i)]; !ok || pn.Generation < 1 || pn.Generation > 3 {
				t.Fatalf("run %d: pin %d of the %d on disk at the kill is %+v (present %v)", run, i, durable, pn, ok)
			}
		}
		if len(got) > made+childBatch { // the round under way when killed
			t.Fatalf("run %d: %d pins loaded, but the child made at most %d", run, len(got), made+childBatch)
		}
		t.Logf("run %d: killed with %d pins on disk for sure, %d made; %d loaded; %d compactions", run, durable, made, len(got), compacted)
	}
	if compactions == 0 {
		t.Error("no run compacted after creating its file: the kills never came near a compaction")
	}
}

const childBatch = 50

// crashChild makes pins and moves recent ones between generations in a loop,
// and prints what is on disk for sure: every pin made before the
// second-to-last successful write (the last one took every change made before
// the one before it ended).
func crashChild() {
	path := os.Getenv(childPathEnv)
	minCompact = 16 << 10 // compactions every few rounds, on a slow machine too
	p := newProxy(nil)
	s, err := Open(Options{Path: path, App: "notes", Table: p, Interval: 10 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go s.Run(context.Background())
	type mark struct {
		at   time.Time
		made int
	}
	var marks []mark
	var last, prev time.Time
	made, durable := 0, 0
	for round := 0; ; round++ {
		pin(p, made, made+childBatch, 1, time.Now())
		pin(p, max(0, made-500), made, 2+round%2, time.Now())
		made += childBatch
		marks = append(marks, mark{time.Now(), made})
		st := s.Status()
		if !st.LastWrite.Equal(last) {
			prev, last = last, st.LastWrite
			for _, m := range marks {
				if m.at.Before(prev) {
					durable = m.made
				}
			}
		}
		// Printed before the next round makes more: made is an upper bound.
		fmt.Println("durable " + strconv.Itoa(durable) + " made " + strconv.Itoa(made) +
			" compactions " + strconv.FormatInt(s.Compactions(), 10))
		time.Sleep(time.Millisecond)
	}
}
