package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
)

// The console's defences: security headers on every answer, a CSRF token
// on every action (the login among them); the login is in login.go.

// secure sets the headers every answer carries: nothing from elsewhere,
// never in a frame, no Referer leaving the console, no caching of state.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// CSRF: the console gives each browser a random nonce in a SameSite=Strict
// cookie; the token in its forms is the HMAC of that nonce under the key
// the process drew at start. Another site can neither read the token nor
// compute it, and tokens die with the process.

// nonce returns the browser's nonce, setting a new one if it has none.
func (c *Console) nonce(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.cookie); err == nil && validNonce(ck.Value) {
		return ck.Value
	}
	b := make([]byte, 18)
	rand.Read(b)
	n := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: c.cookie, Value: n, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return n
}

func validNonce(n string) bool {
	b, err := base64.RawURLEncoding.DecodeString(n)
	return err == nil && len(b) == 18
}

// token is the CSRF token for a nonce.
func (c *Console) token(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("csrf", nonce))
}

// validToken reports whether the form's csrf field matches the cookie.
func (c *Console) validToken(r *http.Request) bool {
	ck, err := r.Cookie(c.cookie)
	if err != nil || !validNonce(ck.Value) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(r.PostForm.Get("csrf"))
	return err == nil && hmac.Equal(got, c.mac("csrf", ck.Value))
}

func (c *Console) mac(purpose, msg string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(purpose + "\x00" + msg))
	return m.Sum(nil)
}

// flash is the outcome of an action, shown once on the page it redirects
// to. It travels in a signed cookie, so that no link can make the console
// show a message of someone else's.
type flash struct {
	OK  bool
	Msg string
}

const maxFlash = 1500

func (c *Console) setFlash(w http.ResponseWriter, r *http.Request, f flash) {
	msg := f.Msg
	if len(msg) > maxFlash {
		msg = msg[:maxFlash] + "…"
	}
	kind := "e"
	if f.OK {
		kind = "o"
	}
	body := base64.RawURLEncoding.EncodeToString([]byte(kind + msg))
	sig := base64.RawURLEncoding.EncodeToString(c.mac("flash", body))
	http.SetCookie(w, &http.Cookie{Name: c.flashCookie, Value: body + "." + sig, Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// takeFlash returns the flash the browser carries, if genuine, and clears it.
func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	ck, err := r.Cookie(c.flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: c.flashCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	body, sig, _ := strings.Cut(ck.Value, ".")
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, c.mac("flash", body)) {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) == 0 {
		return nil
	}
	return &flash{OK: raw[0] == 'o', Msg: string(raw[1:])}
}

// cookieName makes a cookie name of the app's: cookies are shared by every
// port of a host, so two consoles on one host must not overwrite each
// other's.
func cookieName(prefix, app string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, r := range app {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
