package main

import (
	"context"
	"testing"
	"time"
)

func TestSessionIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newSessionID()
		if len(id) != 64 {
			t.Fatalf("length: got %d (%q), want 64", len(id), id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestExpireIdleSessions(t *testing.T) {
	s := newStore()
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	old := s.create("old")
	busy := s.create("busy")
	now = now.Add(20 * time.Minute)
	if _, ok := s.get(busy); !ok { // a use resets the idle clock
		t.Fatal("busy session missing")
	}
	now = now.Add(15 * time.Minute)

	if got, want := s.expire(30*time.Minute), 1; got != want {
		t.Errorf("expired: got %d, want %d", got, want)
	}
	for _, tc := range []struct {
		name, id string
		want     bool
	}{
		{"idle 35m", old, false},
		{"idle 15m", busy, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := s.get(tc.id); got != tc.want {
				t.Errorf("present: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestJanitorRuns(t *testing.T) {
	s := newStore()
	s.create("gone soon")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.janitor(ctx, time.Millisecond) // ticks every second (the floor)
	deadline := time.Now().Add(10 * time.Second)
	for s.len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("janitor never expired the session")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRotateUnknown(t *testing.T) {
	s := newStore()
	if id, ok := s.rotate("missing", "x"); ok || id != "" {
		t.Errorf("got %q, %v; want \"\", false", id, ok)
	}
	if got := s.len(); got != 0 {
		t.Errorf("sessions: got %d, want 0", got)
	}
}

func TestViewIsACopy(t *testing.T) {
	s := newStore()
	id := s.create("kim")
	s.addNote(id, "a")
	v, _ := s.get(id)
	v.Notes[0] = "changed"
	if v2, _ := s.get(id); v2.Notes[0] != "a" {
		t.Errorf("note: got %q, want %q", v2.Notes[0], "a")
	}
}
