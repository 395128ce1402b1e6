package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatewayd/gateway/tests/gwtest"
)

// A real HAProxy in front of a proxy_protocol listener: the unit tests of
// internal/proxyproto read headers this project wrote itself, and only a
// load balancer's own send-proxy-v2 shows that both read the protocol the
// same way. The client comes from 127.0.0.2 and HAProxy from 127.0.0.1, so
// the worker seeing 127.0.0.2 can only come from the header. Without a
// header, or from a peer that is not trusted, the listener answers nothing.
func TestHAProxySendProxyV2(t *testing.T) {
	haproxy := tool(t, "HAPROXY", "haproxy")
	lbPort := gwtest.FreePort(t)
	g := startGateway(t, options{gateway: `trusted_proxies = ["127.0.0.1"]`,
		extra: fmt.Sprintf("\n[listeners.lb]\naddress = \"127.0.0.1:%s\"\nproxy_protocol = true\n", lbPort)})
	front := startHAProxy(t, haproxy, lbPort)

	const client = "127.0.0.2"
	b := gwtest.NewBrowser(t, "http://"+front)
	b.HTTP.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}}).DialContext}
	if who := b.Login("ada"); who.User != "ada" || who.Generation != "1" {
		t.Fatalf("logged in through HAProxy as %+v, want ada on generation 1", who)
	}
	// 127.0.0.2 is not a trusted proxy: what it claims is replaced.
	req, _ := http.NewRequest("GET", "http://"+front+"/whoami", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if who := b.Do(req); who.User != "ada" || who.ForwardedFor != client {
		t.Errorf("through HAProxy the worker saw %+v, want ada with X-Forwarded-For %q (the client, not HAProxy's 127.0.0.1 nor the forged one)",
			who, client)
	}

	direct := "127.0.0.1:" + lbPort
	for _, c := range []struct{ name, from, send string }{
		{"a trusted peer without a header", "127.0.0.1", "GET /whoami HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"},
		{"a peer that is not trusted, with a header", client,
			"PROXY TCP4 198.51.100.4 127.0.0.1 4000 80\r\nGET /whoami HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"},
	} {
		refused := g.log.count(`msg="connection refused before HTTP" component=proxy listener=lb peer=` + c.from + ":")
		if got := exchange(t, c.from, direct, c.send); got != "" {
			t.Errorf("%s: the PROXY listener answered %q, want the connection closed without an answer", c.name, got)
		}
		g.waitLog(`msg="connection refused before HTTP" component=proxy listener=lb peer=`+c.from+":", refused+1, 5*time.Second)
	}
}

// startHAProxy runs HAProxy in the foreground as a child of the test, in
// TCP mode so that it adds nothing to the HTTP it carries, sending the
// gateway at 127.0.0.1:gwPort a PROXY v2 header from 127.0.0.1. It returns
// the address clients connect to once HAProxy carries a request through.
func startHAProxy(t *testing.T, haproxy, gwPort string) string {
	t.Helper()
	front := "127.0.0.1:" + gwtest.FreePort(t)
	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`global
    maxconn 64

defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend front
    bind %s
    default_backend gw

backend gw
    source 127.0.0.1
    server gw 127.0.0.1:%s send-proxy-v2
`, front, gwPort)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out gwtest.SyncBuffer
	cmd := exec.Command(haproxy, "-f", cfg, "-db")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("haproxy output:\n%s", out.String())
		}
	})
	up := gwtest.Poll(10*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		resp, err := http.Get("http://" + front + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	select {
	case <-exited:
		t.Fatalf("haproxy exited: %v\n%s", cmd.ProcessState, out.String())
	default:
	}
	if !up {
		t.Fatalf("haproxy at %s did not carry GET /healthz to the gateway within 10s:\n%s", front, out.String())
	}
	return front
}

// exchange connects from the local address from to addr, sends send and
// returns what comes back before the peer closes the connection (or
// within 10s); it fails the test if the peer neither answers nor closes.
func exchange(t *testing.T, from, addr, send string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, send); err != nil {
		return "" // closed already
	}
	got, err := io.ReadAll(c)
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() && len(got) == 0 {
		t.Fatalf("from %s to %s: neither an answer nor a close within 10s (got %q)", from, addr, got)
	}
	return string(got)
}
