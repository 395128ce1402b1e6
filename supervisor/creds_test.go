package supervisor

import (
	"os"
	"strings"
	"testing"
)

func TestCredentialErrors(t *testing.T) {
	root := os.Geteuid() == 0
	for _, c := range []struct {
		name, user, group string
		asRoot            bool // the case runs only as root (true) or only as another user
		want              []string
	}{
		{"unknown user", "gateway-test-no-such-user", "", true, []string{"app.user", "gateway-test-no-such-user"}},
		{"unknown group", "", "gateway-test-no-such-group", true, []string{"app.group", "gateway-test-no-such-group"}},
		{"user without root", "nobody", "", false, []string{"app.user", "not running as root"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.asRoot != root {
				t.Skipf("runs only with root %t: only root may switch users", c.asRoot)
			}
			_, err := Credential(c.user, c.group)
			if err == nil {
				t.Fatalf("got no error, want one containing %q", c.want)
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("got %q, want it to contain %q", err, want)
				}
			}
		})
	}
	if cred, err := Credential("", ""); cred != nil || err != nil {
		t.Errorf("neither set: got %v, %v; want nil, nil (the gateway's own)", cred, err)
	}
}
