package gwtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Session is one login made by Logins: its session id and who answered.
type Session struct {
	SID string
	Who Whoami
}

// Logins logs n users (named prefix0…) in to the sample app at base, on 16
// keep-alive connections and without a cookie jar, and returns their
// session ids and workers: many sessions, fast.
func Logins(t testing.TB, base, prefix string, n int) []Session {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	out := make([]Session, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for c := range 16 {
		wg.Go(func() {
			for i := c; i < n; i += 16 {
				s, err := loginWith(client, base, prefix+strconv.Itoa(i))
				if err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	if failed != nil {
		t.Fatalf("logging in: %v", failed)
	}
	return out
}

// Login logs one user in to the sample app at base, without a cookie jar.
func Login(base, user string) (Session, error) { return loginWith(http.DefaultClient, base, user) }

func loginWith(client *http.Client, base, user string) (Session, error) {
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"user": {user}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Session{}, err
	}
	defer resp.Body.Close()
	var s Session
	for _, c := range resp.Cookies() {
		if c.Name == "SID" {
			s.SID = c.Value
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&s.Who); err != nil || resp.StatusCode != 200 || s.SID == "" {
		return Session{}, fmt.Errorf("login %s: status %d, sid %q, %v", user, resp.StatusCode, s.SID, err)
	}
	return s, nil
}

// WhoWithSIDOnly asks the sample app who a session is, sending its session
// cookie and no affinity cookie: only a pin the gateway holds can route it.
func WhoWithSIDOnly(t testing.TB, base, sid string) Whoami {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/whoami", nil)
	req.Header.Set("Cookie", "SID="+sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var w Whoami
	json.NewDecoder(resp.Body).Decode(&w)
	return w
}

// SetCookie returns the Set-Cookie line of resp that sets the cookie name
// (its attributes included, which is what tests of Secure and Max-Age read),
// or "" when there is none.
func SetCookie(resp *http.Response, name string) string {
	for _, line := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(line, name+"=") {
			return line
		}
	}
	return ""
}
