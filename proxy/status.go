package proxy

import "net/http"

// statusText is http.StatusText with a fallback, for status lines the
// gateway writes when a worker sent no reason phrase.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "Status"
}
