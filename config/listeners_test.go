package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestListeners(t *testing.T) {
	doc := app + `[gateway]
trusted_proxies = ["10.0.0.0/8"]

[listeners.public]
address = "0.0.0.0:8443"
certificates = [{cert = "/etc/ssl/a/fullchain.pem", key = "/etc/ssl/a/privkey.pem"},
                {cert = "/etc/ssl/b.pem", key = "/etc/ssl/b.key"}]

[listeners.lb]
address = "127.0.0.1:9000"
proxy_protocol = true

[listeners.plain]
address = "[::]:8081"
redirect_https = 8443
`
	c, err := Parse([]byte(doc), "notes.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Listener{
		"public": {Address: "0.0.0.0:8443", Certificates: []Certificate{
			{Cert: "/etc/ssl/a/fullchain.pem", Key: "/etc/ssl/a/privkey.pem"}, {Cert: "/etc/ssl/b.pem", Key: "/etc/ssl/b.key"}}},
		"lb":    {Address: "127.0.0.1:9000", ProxyProtocol: true},
		"plain": {Address: "[::]:8081", RedirectHTTPS: 8443},
	}
	if !reflect.DeepEqual(c.Listeners, want) {
		t.Errorf("got %+v\nwant %+v", c.Listeners, want)
	}
	if got := c.ListenerNames(); !reflect.DeepEqual(got, []string{"lb", "plain", "public"}) {
		t.Errorf("names %v", got)
	}
}

func TestListenerErrors(t *testing.T) {
	const f = "notes.toml"
	for _, c := range []struct {
		name, doc string
		want      []string
	}{{
		name: "names",
		doc:  "[listeners.admin]\naddress = \"127.0.0.1:1\"\n[listeners.\"a b\"]\naddress = \"127.0.0.1:2\"\n",
		want: []string{
			f + `:4: listeners.admin: "admin" is the admin console's socket; name the proxy's listener otherwise`,
			f + `:6: listeners."a b": "a b" is not a valid name`,
		},
	}, {
		name: "addresses",
		doc:  "[gateway]\nlisten = [\"127.0.0.1:8080\"]\n[listeners.x]\naddress = \"127.0.0.1:8080\"\n[listeners.y]\naddress = \"nowhere\"\n",
		want: []string{
			f + `:7: listeners.x.address: "127.0.0.1:8080" is also in gateway.listen`,
			f + `:9: listeners.y.address: "nowhere" is not "host:port" or "unix:/absolute/path"`,
		},
	}, {
		name: "certificates",
		doc:  "[listeners.x]\ncertificates = [{cert = \"site.pem\"}, 7]\n",
		want: []string{
			f + `:5: listeners.x.certificates[0].cert: "site.pem" is not an absolute path`,
			f + `:5: listeners.x.certificates[0].key: required (an absolute path`,
			f + `:5: listeners.x.certificates[1]: got an integer, want a table`,
		},
	}, {
		name: "contradictions",
		doc:  "[listeners.x]\ndisable_http2 = true\nproxy_protocol = true\n[listeners.y]\ncertificates = [{cert = \"/a\", key = \"/b\"}]\nredirect_https = 443\n",
		want: []string{
			f + `:5: listeners.x.disable_http2: set on a listener without certificates`,
			f + `:6: listeners.x.proxy_protocol: needs the sending proxies in gateway.trusted_proxies`,
			f + `:9: listeners.y.redirect_https: set on a TLS listener`,
		},
	}, {
		name: "types",
		doc:  "[listeners.x]\nproxy_protocol = \"yes\"\nredirect_https = 70000\n[listeners]\nz = 1\n",
		want: []string{
			f + `:5: listeners.x.proxy_protocol: got a string, want true or false`,
			f + `:6: listeners.x.redirect_https: 70000 is not a port`,
			`listeners.z: got an integer, want a table`,
		},
	}} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(app+c.doc), f)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

// gateway.listen may be empty when [listeners] tables serve instead.
func TestListenersOnly(t *testing.T) {
	c, err := Parse([]byte(app+"[gateway]\nlisten = []\n[listeners.https]\naddress = \"0.0.0.0:8443\"\ncertificates = [{cert = \"/a.pem\", key = \"/a.key\"}]\n"), "notes.toml")
	if err != nil || len(c.Gateway.Listen) != 0 || !c.Listeners["https"].TLS() {
		t.Errorf("got %+v, %v", c, err)
	}
}
