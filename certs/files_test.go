package certs

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileCertificateFollowsTheFiles: a renewal written over the files is served from the next
// check on; a pair that does not load (half written) keeps the last good one served; at start a
// bad pair is an error naming the files.
func TestFileCertificateFollowsTheFiles(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	crtPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(cn string) {
		t.Helper()
		crt, key, err := ca.Issue(Request{CommonName: cn, DNSNames: []string{"gw.example.com"}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crtPath, crt, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyPath, key, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewFileCertificate(crtPath, keyPath); err == nil || !strings.Contains(err.Error(), crtPath) {
		t.Fatalf("without files: %v, want an error naming %s", err, crtPath)
	}
	write("first")
	f, err := NewFileCertificate(crtPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	subject := func() string {
		t.Helper()
		c, err := f.Get()
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Subject.CommonName
	}
	if got := subject(); got != "first" {
		t.Fatalf("serving %q, want first", got)
	}
	write("second")
	// What Run does when the files change (its watch is fsnotify's), at once.
	if err := f.content.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := subject(); got != "second" {
		t.Errorf("after the renewal: serving %q, want second", got)
	}
	if err := os.WriteFile(keyPath, []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.content.RunOnce(t.Context()); err == nil {
		t.Error("a key that does not load was taken")
	}
	if got := subject(); got != "second" {
		t.Errorf("with a key that does not load: serving %q, want the last good one (second)", got)
	}
}
