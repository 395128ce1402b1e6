package fleet

import (
	"encoding/json"
	"time"
)

// Listener is one listening socket of the proxy, as the status shows it:
// what an operator checks after changing [listeners] or renewing a
// certificate.
type Listener struct {
	// Name is the [listeners.NAME] table's; "" for a plain listener of
	// gateway.listen (or a socket passed as "http").
	Name          string        `json:"name"`
	Address       string        `json:"address"`
	TLS           bool          `json:"tls"`
	HTTP2         bool          `json:"http2"` // offered by ALPN
	ProxyProtocol bool          `json:"proxy_protocol"`
	RedirectHTTPS int           `json:"redirect_https"` // the port; 0: no redirect
	Certificates  []Certificate `json:"certificates"`   // in use; never null
}

// Certificate is a TLS listener's certificate in use.
type Certificate struct {
	File     string    `json:"file"`
	Names    []string  `json:"names"`
	NotAfter time.Time `json:"not_after"`
}

// MarshalJSON writes the time in UTC, as the status document's other times.
func (c Certificate) MarshalJSON() ([]byte, error) {
	type plain Certificate
	c.NotAfter = c.NotAfter.UTC()
	return json.Marshal(plain(c))
}
