module github.com/gatewayd/gateway

go 1.26.0

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/lmittmann/tint v1.2.1
)
