// Package e2e runs gatewayd and the sample app as real processes and checks
// what a user and an operator see: sessions staying on their generation
// across upgrades, generations retiring, failures leaving the active
// generation serving. Nothing is faked; the tests observe the gateway
// through HTTP, its log and its state file.
package e2e
