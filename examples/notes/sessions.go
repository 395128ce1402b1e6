package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// session is the per-user state that exists only in this process's memory —
// losing it is exactly what the gateway's session pinning prevents.
type session struct {
	user     string
	notes    []string
	created  time.Time
	lastUsed time.Time
}

// sessionView is a copy handed out to handlers so they never hold a pointer
// into the map outside the lock.
type sessionView struct {
	User    string
	Notes   []string
	Created time.Time
}

type store struct {
	mu  sync.Mutex
	m   map[string]*session
	now func() time.Time // replaced in tests to drive expiry
}

func newStore() *store {
	return &store{m: make(map[string]*session), now: time.Now}
}

// newSessionID returns 32 random bytes in hex: unguessable, and cookie-safe
// without further encoding.
func newSessionID() string {
	var b [32]byte
	rand.Read(b[:]) // never returns an error; it crashes the program instead
	return hex.EncodeToString(b[:])
}

func (s *store) create(user string) string {
	id := newSessionID()
	now := s.now()
	s.mu.Lock()
	s.m[id] = &session{user: user, created: now, lastUsed: now}
	s.mu.Unlock()
	return id
}

// get returns a copy of the session and counts as a use of it.
func (s *store) get(id string) (sessionView, bool) {
	if id == "" {
		return sessionView{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[id]
	if !ok {
		return sessionView{}, false
	}
	sess.lastUsed = s.now()
	return sessionView{User: sess.user, Notes: append([]string(nil), sess.notes...), Created: sess.created}, true
}

// rotate moves the session to a fresh id, as servlet containers do on login,
// so an id known before authentication (session fixation) is worthless after.
// The gateway must follow the cookie to the new id; that is why the sample does it.
func (s *store) rotate(oldID, user string) (string, bool) {
	newID := newSessionID()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[oldID]
	if !ok {
		return "", false
	}
	delete(s.m, oldID)
	sess.user = user
	sess.lastUsed = s.now()
	s.m[newID] = sess
	return newID, true
}

func (s *store) addNote(id, note string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.m[id]
	if !ok {
		return false
	}
	sess.notes = append(sess.notes, note)
	sess.lastUsed = s.now()
	return true
}

func (s *store) delete(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[id]
	delete(s.m, id)
	return ok
}

func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// expire removes sessions idle for longer than idle and reports how many.
func (s *store) expire(idle time.Duration) int {
	cutoff := s.now().Add(-idle)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, sess := range s.m {
		if sess.lastUsed.Before(cutoff) {
			delete(s.m, id)
			n++
		}
	}
	return n
}

// janitor expires idle sessions until ctx ends, so a long-lived generation
// does not accumulate abandoned sessions forever.
func (s *store) janitor(ctx context.Context, idle time.Duration) {
	if idle <= 0 {
		return
	}
	t := time.NewTicker(min(max(idle/4, time.Second), time.Minute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.expire(idle)
		}
	}
}
