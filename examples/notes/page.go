package main

import (
	"html/template"
	"net/http"
	"time"
)

// pageData is what the index template sees; the process identity is on the
// page so a person clicking through a deploy can watch where they land.
type pageData struct {
	Revision   string
	Generation string
	PID        int
	LoggedIn   bool
	User       string
	Notes      []string
	Since      string
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	_, s, ok := a.current(r)
	data := pageData{Revision: a.revision, Generation: a.generation, PID: a.pid, LoggedIn: ok}
	if ok {
		data.User, data.Notes, data.Since = s.User, s.Notes, s.Created.Format(time.DateTime)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // the page is per session
	if err := pageTemplate.Execute(w, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// The empty icon keeps browsers from asking for /favicon.ico, which the app
// does not have: a 404 on every page would be an error in the browser
// tests (tests/browser/https.mjs).
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>notes · {{.Revision}}</title>
<link rel="icon" href="data:,">
<style>
  body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 1.5rem auto; padding: 0 1rem; line-height: 1.5; color: #222; }
  .id { font-family: ui-monospace, monospace; font-size: .85rem; background: #f2f2f2; border-radius: .4rem; padding: .5rem .75rem; }
  form { display: flex; gap: .5rem; margin: .75rem 0; flex-wrap: wrap; }
  input[type=text] { flex: 1; min-width: 10rem; padding: .5rem; font-size: 1rem; }
  button { padding: .5rem 1rem; font-size: 1rem; cursor: pointer; }
  button.quiet { background: none; border: 1px solid #aaa; color: #555; }
  ul { padding-left: 1.25rem; }
  .muted { color: #777; font-size: .85rem; }
</style>
</head>
<body>
<h1>notes</h1>
<p class="id">revision <b>{{.Revision}}</b> · generation <b>{{if .Generation}}{{.Generation}}{{else}}–{{end}}</b> · pid <b>{{.PID}}</b></p>
{{if .LoggedIn}}
<p>Logged in as <b>{{.User}}</b> <span class="muted">since {{.Since}}</span></p>
{{if .Notes}}<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{else}}<p class="muted">No notes yet.</p>{{end}}
<form method="post" action="/notes">
  <input type="text" name="note" placeholder="a note" required autofocus>
  <button>Add</button>
</form>
<form method="post" action="/logout"><button>Log off</button></form>
<form method="post" action="/signout">
  <button class="quiet">Sign out, keep cookie</button>
  <span class="muted">forgets the session on the server only, like apps the gateway's logout_paths is for</span>
</form>
<form method="post" action="/login">
  <input type="text" name="user" placeholder="switch user (rotates the session id)" required>
  <button class="quiet">Log in</button>
</form>
{{else}}
<p>Log in with any name. Your notes live only in this process's memory.</p>
<form method="post" action="/login">
  <input type="text" name="user" placeholder="your name" required autofocus>
  <button>Log in</button>
</form>
{{end}}
</body>
</html>
`))
