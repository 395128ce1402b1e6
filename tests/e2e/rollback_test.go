package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A rollback from the console with sessions on both generations: new
// sessions go to the restored generation from the next request, pinned
// ones stay where they are, and the bad generation retires when its last
// session ends. The symlink stays at the bad revision: a rollback does not
// start anything.
func TestRollback(t *testing.T) {
	g := startGateway(t, options{admin: true})
	ada := g.browser()
	if who := ada.Login("ada"); who.Generation != "1" {
		t.Fatalf("ada on generation %s, want 1", who.Generation)
	}
	g.point("rel2")
	if failed := g.upgrade(); failed != "" {
		t.Fatal(failed)
	}
	bob := g.browser()
	if who := bob.Login("bob"); who.Generation != "2" || who.Revision != "rel2" {
		t.Fatalf("bob on %+v, want generation 2 (rel2)", who)
	}

	if flash := consoleAction(t, g.admin, "rollback", nil); !strings.Contains(flash, "generation 1 is active again (revision rel1)") {
		t.Fatalf("console rollback: flash %q", flash)
	}
	if who := g.browser().Login("cy"); who.Generation != "1" {
		t.Errorf("a login right after the rollback went to generation %s, want 1", who.Generation)
	}
	if who := ada.Who(); who.Generation != "1" || who.User != "ada" {
		t.Errorf("ada after the rollback: %+v, want her session on generation 1", who)
	}
	if who := bob.Who(); who.Generation != "2" || who.User != "bob" {
		t.Errorf("bob after the rollback: %+v, want his session kept on generation 2", who)
	}
	if gens := g.generations(); gens[1] != "active" || gens[2] != "detached" || len(gens) != 2 {
		t.Errorf("generations after the rollback: %v, want 1 active, 2 detached, no other", gens)
	}
	g.waitLog(`event=rollback`, 1, 5*time.Second)

	bob.Post("/logout", nil)
	g.waitLog(`msg="generation retired" component=supervisor generation=2`, 1, 10*time.Second)
}

var consoleToken = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleAction posts one of the console's forms, as its page does, and
// returns the flash message the page shows after.
func consoleAction(t *testing.T, console, action string, form url.Values) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	page := func() string {
		resp, err := c.Get(console)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	m := consoleToken.FindStringSubmatch(page())
	if m == nil {
		t.Fatal("no CSRF token in the console's page")
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", m[1])
	resp, err := c.PostForm(console+action, form) // and the page it redirects to, with the flash
	if err != nil {
		t.Fatal(err)
	}
	after, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	flash := regexp.MustCompile(`<p class="flash [a-z]+" role="status">([^<]*)</p>`).FindStringSubmatch(string(after))
	if flash == nil {
		return ""
	}
	return flash[1]
}
