module github.com/gatewayd/gateway/tests/bench/storecmp

go 1.26

require github.com/gatewayd/gateway v0.0.0

replace github.com/gatewayd/gateway => ../../..
