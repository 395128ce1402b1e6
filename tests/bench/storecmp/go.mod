module github.com/gatewayd/gateway/tests/bench/storecmp

go 1.26.0

require (
	github.com/gatewayd/gateway v0.0.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.49.0 // indirect

replace github.com/gatewayd/gateway => ../../..
