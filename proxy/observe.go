package proxy

import "time"

// Observer is told about every request the proxy answers, for metrics. The
// proxy counts nothing itself beyond what keeps a generation alive (see
// [Proxy.Usage]); what is cheap to read at any time, such as
// [Proxy.RejectedAffinity] or [Proxy.Switched], is not reported here.
type Observer interface {
	// Request is called once per request, on the request's goroutine, once
	// the answer is complete (for a protocol switch: once switched, not at
	// the end of the connection): gen is the generation that answered (0
	// when none could: the 503 while no generation is ready), status the
	// status code the client got (101 for a protocol switch, 502 when the
	// worker failed), d the time from receiving the request to then. It must
	// not block and should not allocate. Requests to Options.SwitchPath,
	// which the gateway answers itself, are not reported.
	Request(gen, status int, d time.Duration)
}
