package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"sync"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// FileCertificate is a certificate and key kept in two PEM files that something else renews
// (cert-manager writes a Secret's files). k8s.io/apiserver's dynamiccertificates content reads
// them, watches them (Run) and keeps the last good pair while a new one does not load (a renewal
// writes the files one after the other); Get serves it as a tls.Certificate, parsed once per pair.
type FileCertificate struct {
	content *dynamiccertificates.DynamicCertKeyPairContent

	mu      sync.Mutex
	certPEM []byte
	cert    *tls.Certificate
}

// NewFileCertificate reads the pair once; its error names the files.
func NewFileCertificate(certFile, keyFile string) (*FileCertificate, error) {
	content, err := dynamiccertificates.NewDynamicServingContentFromFiles("serving", certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("serving certificate %s, key %s: %w", certFile, keyFile, err)
	}
	return &FileCertificate{content: content}, nil
}

// Run reloads the pair when its files change, until ctx ends.
func (f *FileCertificate) Run(ctx context.Context) { f.content.Run(ctx, 1) }

// Get returns the current pair.
func (f *FileCertificate) Get() (*tls.Certificate, error) {
	certPEM, keyPEM := f.content.CurrentCertKeyContent()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cert != nil && bytes.Equal(certPEM, f.certPEM) {
		return f.cert, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM) // checked by the content already
	if err != nil {
		return nil, fmt.Errorf("serving certificate %s: %w", f.content.Name(), err)
	}
	f.certPEM, f.cert = certPEM, &pair
	return f.cert, nil
}
