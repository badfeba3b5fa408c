package certs

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// FileCertificate is a certificate and key kept in two PEM files that something else renews
// (cert-manager writes a Secret's files): Get reads them again when either file changed, at most
// once per second, and keeps serving the last good pair while the new one does not load (a
// renewal writes the files one after the other).
type FileCertificate struct {
	CertFile, KeyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	checked time.Time
}

// Load reads the pair once; its error names the files.
func (f *FileCertificate) Load() error {
	_, err := f.get(true)
	return err
}

// Get returns the current pair.
func (f *FileCertificate) Get() (*tls.Certificate, error) { return f.get(false) }

func (f *FileCertificate) get(force bool) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !force && f.cert != nil && time.Since(f.checked) < time.Second {
		return f.cert, nil
	}
	f.checked = time.Now()
	stamp, err := f.fileStamp()
	if err == nil && stamp == f.stamp && f.cert != nil {
		return f.cert, nil
	}
	pair, lerr := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err == nil {
		err = lerr
	}
	if err != nil {
		if f.cert != nil && !force {
			return f.cert, nil
		}
		return nil, fmt.Errorf("serving certificate %s, key %s: %w", f.CertFile, f.KeyFile, err)
	}
	f.cert, f.stamp = &pair, stamp
	return f.cert, nil
}

// fileStamp is the files' sizes and modification times.
func (f *FileCertificate) fileStamp() (string, error) {
	var s string
	for _, name := range []string{f.CertFile, f.KeyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", fi.Size(), fi.ModTime().UnixNano())
	}
	return s, nil
}
