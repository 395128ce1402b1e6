package console

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gatewayd/gateway/fleet"
)

// listenerView is a listener as the page lists it, below the generations:
// what it speaks, and how long its certificates have left (a certificate
// that expires within certWarn is flagged).
type listenerView struct {
	Name, Address, Speaks string
	Certs                 []certView
}

type certView struct {
	File, Names string
	Expires     timeView
	Soon        bool // expires within certWarn, or has expired
}

const certWarn = 14 * 24 * time.Hour

func (c *Console) listeners(ctx context.Context, now time.Time) []listenerView {
	ls, err := c.core.Listeners(ctx)
	if err != nil {
		return nil
	}
	out := make([]listenerView, 0, len(ls))
	for _, l := range ls {
		v := listenerView{Name: l.Name, Address: l.Address, Speaks: speaks(l)}
		for _, ct := range l.Certificates {
			v.Certs = append(v.Certs, certView{File: ct.File, Names: strings.Join(ct.Names, ", "),
				Expires: atTime(ct.NotAfter, now), Soon: ct.NotAfter.Sub(now) < certWarn})
		}
		out = append(out, v)
	}
	return out
}

// speaks says what a listener serves, as gatewayctl status does.
func speaks(l fleet.Listener) string {
	s := "HTTP/1.1"
	switch {
	case l.TLS && l.HTTP2:
		s = "TLS · HTTP/2 and HTTP/1.1"
	case l.TLS:
		s = "TLS · HTTP/1.1"
	case l.RedirectHTTPS != 0:
		s = "redirects to HTTPS (port " + strconv.Itoa(l.RedirectHTTPS) + ")"
	}
	if l.ProxyProtocol {
		s += " · PROXY protocol"
	}
	return s
}
