package console

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// sessions are the console's signed-in browsers, held in memory only: a
// restart signs everyone out, and a cookie is worth nothing without the
// table entry behind it.
type sessions struct {
	idle, life time.Duration
	max        int

	mu sync.Mutex
	m  map[string]*signedIn
}

type signedIn struct {
	user          string
	created, seen time.Time
}

// Session limits: the page polls every 10 s while it is open, so idle
// expiry is for closed tabs; the lifetime ends a tab left open for days.
const (
	sessionIdle = 30 * time.Minute
	sessionLife = 12 * time.Hour
	maxSessions = 64
)

func newSessions() *sessions {
	return &sessions{idle: sessionIdle, life: sessionLife, max: maxSessions, m: map[string]*signedIn{}}
}

// start returns the id of a new session of user: 256 random bits.
func (s *sessions) start(user string, now time.Time) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		s.evict(now)
	}
	s.m[id] = &signedIn{user: user, created: now, seen: now}
	return id, nil
}

// evict makes room: the expired sessions go, and if none had, the one
// seen longest ago.
func (s *sessions) evict(now time.Time) {
	var oldest string
	for id, e := range s.m {
		if s.expired(e, now) {
			delete(s.m, id)
		} else if oldest == "" || e.seen.Before(s.m[oldest].seen) {
			oldest = id
		}
	}
	if len(s.m) >= s.max {
		delete(s.m, oldest)
	}
}

func (s *sessions) expired(e *signedIn, now time.Time) bool {
	return now.Sub(e.seen) >= s.idle || now.Sub(e.created) >= s.life
}

// valid reports whether id is a live session, and marks it seen.
func (s *sessions) valid(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[id]
	if e == nil {
		return false
	}
	if s.expired(e, now) {
		delete(s.m, id)
		return false
	}
	e.seen = now
	return true
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}
