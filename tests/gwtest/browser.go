package gwtest

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Browser is a user of the notes app with a cookie jar.
type Browser struct {
	t    testing.TB
	base string
	HTTP *http.Client
}

// NewBrowser returns a browser for the app behind base (http://host:port).
func NewBrowser(t testing.TB, base string) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, base: base, HTTP: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Whoami is the notes app's /whoami answer.
type Whoami struct {
	Revision   string `json:"revision"`
	Generation string `json:"generation"`
	PID        int    `json:"pid"`
	User       string `json:"user"`
	Notes      int    `json:"notes"`
	Session    bool   `json:"session"`
	// ForwardedFor is the X-Forwarded-For the worker got, on GET /whoami.
	ForwardedFor string `json:"forwarded_for"`
}

// Post sends a form as the app's JSON client and decodes whoami.
func (b *Browser) Post(path string, form url.Values) Whoami {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	return b.Do(req)
}

// Who asks the app who this browser is.
func (b *Browser) Who() Whoami {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.base+"/whoami", nil)
	return b.Do(req)
}

// Do sends req with the browser's cookies and wants a 200 whoami answer.
func (b *Browser) Do(req *http.Request) Whoami {
	b.t.Helper()
	resp, err := b.HTTP.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	var w Whoami
	if resp.StatusCode != 200 {
		b.t.Fatalf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		b.t.Fatalf("%s %s: decoding whoami: %v", req.Method, req.URL.Path, err)
	}
	return w
}

// Login logs in as user (the app rotates the session id if there is one).
func (b *Browser) Login(user string) Whoami {
	b.t.Helper()
	return b.Post("/login", url.Values{"user": {user}})
}

// Cookie returns the value of a cookie the browser holds.
func (b *Browser) Cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.HTTP.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
