// Package certs holds the certificates of the proxy's TLS listeners: read
// from the files the configuration names ([listeners.NAME] certificates in
// config/listeners.go), chosen per handshake by the client's server name,
// and read again on reload. A reload swaps them for new handshakes only:
// connections already open keep the session they negotiated, so nothing is
// dropped.
package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gatewayd/gateway/config"
)

// Set is the certificates of one listener.
type Set struct {
	files []config.Certificate
	cur   atomic.Pointer[loaded]
}

// loaded is one reading of the files.
type loaded struct {
	pairs []tls.Certificate
	info  []Info
}

// Info describes a loaded certificate, for status and logs.
type Info struct {
	Cert     string    `json:"cert"`
	Key      string    `json:"key"`
	Names    []string  `json:"names"`
	NotAfter time.Time `json:"not_after"`
}

// New reads the files; an error names the file that failed.
func New(files []config.Certificate) (*Set, error) {
	if len(files) == 0 {
		return nil, errors.New("no certificates")
	}
	s := &Set{files: files}
	l, err := read(files)
	if err != nil {
		return nil, err
	}
	s.cur.Store(l)
	return s, nil
}

// Staged is a reading of a Set's files not yet in use: Reload stages every
// listener's first, so that one broken file changes none of them.
type Staged struct {
	s *Set
	l *loaded
}

// Stage reads the files again.
func (s *Set) Stage() (Staged, error) {
	l, err := read(s.files)
	return Staged{s, l}, err
}

// Commit puts a staged reading in use for the handshakes that follow.
func (st Staged) Commit() { st.s.cur.Store(st.l) }

func read(files []config.Certificate) (*loaded, error) {
	l := &loaded{}
	for _, f := range files {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("certificate %s with key %s: %w", f.Cert, f.Key, err)
		}
		leaf := pair.Leaf
		names := slices.Clone(leaf.DNSNames)
		for _, ip := range leaf.IPAddresses {
			names = append(names, ip.String())
		}
		if len(names) == 0 && leaf.Subject.CommonName != "" {
			names = append(names, leaf.Subject.CommonName)
		}
		l.pairs = append(l.pairs, pair)
		l.info = append(l.info, Info{Cert: f.Cert, Key: f.Key, Names: names, NotAfter: leaf.NotAfter})
	}
	return l, nil
}

// Info describes the certificates in use.
func (s *Set) Info() []Info { return slices.Clone(s.cur.Load().info) }

// Config is the TLS configuration of a listener using s: TLS 1.2 at least,
// the standard library's cipher suites, and ALPN h2 (unless h1Only) and
// http/1.1.
func (s *Set) Config(h1Only bool) *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if h1Only {
		protos = protos[1:]
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: protos, GetCertificate: s.certificate}
}

// certificate picks the first certificate the client can use for the name
// it asked for (SNI), else the first one.
func (s *Set) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	l := s.cur.Load()
	for i := range l.pairs {
		if hello.SupportsCertificate(&l.pairs[i]) == nil {
			return &l.pairs[i], nil
		}
	}
	return &l.pairs[0], nil
}
