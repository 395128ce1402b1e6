package console

import (
	"net/http"
	"time"
)

// loginView is the login page.
type loginView struct {
	App, Version string
	Token        string // the CSRF token of the form: a login is an action too
	User         string // what was typed, after a failure
	Err          string
}

// loginPage is GET /login: the form, or the console for a browser that is
// signed in already.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if c.signedIn(r) {
		seeOther(w, "./")
		return
	}
	c.renderLogin(w, r, http.StatusOK, loginView{})
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, v loginView) {
	v.App, v.Version, v.Token = c.o.App, c.o.Version, c.token(c.nonce(w, r))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, "login", v); err != nil {
		c.log.Error("rendering the admin console", "template", "login", "error", err)
	}
}

// login is POST /login. The CSRF token comes first, so that another site
// cannot sign a browser in to a session of its choosing, nor use the
// browser to guess.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	if !c.form(w, r) {
		return
	}
	user := r.PostForm.Get("user")
	o, retry := c.authenticate(r.Context(), sourceOf(r.RemoteAddr), user, r.PostForm.Get("password"))
	switch o {
	case loginFailed:
		c.renderLogin(w, r, http.StatusUnauthorized, loginView{User: user, Err: "Wrong user or password."})
		return
	case loginThrottled, loginBusy:
		c.refuse(w, r, o, retry)
		return
	}
	id, err := c.sessions.start(user, c.now())
	if err != nil {
		http.Error(w, "500 drawing a session id: "+err.Error(), http.StatusInternalServerError)
		return
	}
	c.log.Info("admin console: signed in", "source", sourceOf(r.RemoteAddr), "user", user)
	http.SetCookie(w, &http.Cookie{Name: c.sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	seeOther(w, "./")
}

// logout is POST /logout: the session ends on the server, not only in the
// browser.
func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if !c.form(w, r) {
		return
	}
	if ck, err := r.Cookie(c.sessionCookie); err == nil {
		c.sessions.end(ck.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: c.sessionCookie, Path: "/", MaxAge: -1, Expires: time.Unix(1, 0),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	seeOther(w, "login")
}

// form reads a POST's form and checks its CSRF token; if either fails it
// has answered.
func (c *Console) form(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "400 reading the form: "+err.Error(), http.StatusBadRequest)
		return false
	}
	if !c.validToken(r) {
		c.log.Warn("admin console: form refused: no valid CSRF token", "path", r.URL.Path)
		c.forbidden(w, r)
		return false
	}
	return true
}

// seeOther redirects relatively, so that the console works behind a proxy
// that mounts it under a path.
func seeOther(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}
