package e2e

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"os"
	"os/exec"
	"testing"
	"time"
)

// The notes app in headless Chromium through a TLS listener: a browser's
// TLS and HTTP/2 stack, not Go's nor curl's, negotiates h2 by ALPN, logs in
// through the app's form and gets a Secure affinity cookie, because the
// gateway knows the connection was TLS. tests/browser/https.mjs drives the
// browser; the certificate is trusted by its key alone, so a wrong one
// still fails.
func TestHTTPSInChromium(t *testing.T) {
	node := browserTools(t)
	cert, port := startTLSGateway(t)
	leaf, err := x509.ParseCertificate(cert.Pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "../browser/https.mjs", "https://127.0.0.1:"+port+"/", "ada")
	cmd.Env = append(os.Environ(), "SPKI="+base64.StdEncoding.EncodeToString(spki[:]))
	out, err := cmd.CombinedOutput()
	t.Logf("https.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
}
