package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// Default lifetimes of what the CA issues.
const (
	CALifetime      = 10 * 365 * 24 * time.Hour
	DefaultLifetime = 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that a peer whose clock lags a little accepts a fresh
	// certificate; by a tenth of the lifetime at most, so that a short-lived certificate's validity
	// (and a renewal at a share of it) stays close to the lifetime asked for.
	clockSkew = 5 * time.Minute
)

// CA is a certificate authority: a self-signed certificate and its key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA creates a self-signed CA with a fresh ECDSA P-256 key.
func NewCA(commonName string) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	cert, err := certutil.NewSelfSignedCACert(certutil.Config{CommonName: commonName}, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate %q: %w", commonName, err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// ParseCA loads a CA from PEM data as written by CA.CertPEM and CA.KeyPEM.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("parse CA key: not a signing key")
	}
	if !certs[0].IsCA {
		return nil, errors.New("parse CA certificate: not a CA certificate")
	}
	return &CA{Cert: certs[0], Key: signer}, nil
}

// CertPEM returns the CA certificate in PEM form.
func (ca *CA) CertPEM() []byte {
	return encodeDER(ca.Cert.Raw)
}

// KeyPEM returns the CA key in PEM form.
func (ca *CA) KeyPEM() ([]byte, error) {
	return keyutil.MarshalPrivateKeyToPEM(ca.Key)
}

// Pool returns a cert pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Request describes a certificate to issue.
type Request struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	// Usages are the extended key usages, e.g. x509.ExtKeyUsageServerAuth.
	Usages   []x509.ExtKeyUsage
	Lifetime time.Duration // DefaultLifetime when zero
}

// Issue creates a new key and a certificate for it signed by the CA. Both are returned in PEM form.
func (ca *CA) Issue(r Request) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	der, err := ca.sign(r, key.Public())
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key of %q: %w", r.CommonName, err)
	}
	return encodeDER(der), keyPEM, nil
}

// SignCSR signs a certificate signing request. Subject names come from r, never from the CSR, so a
// requester cannot choose its own identity; the CSR contributes only its public key, whose
// self-signature is checked.
func (ca *CA) SignCSR(csrDER []byte, r Request) ([]byte, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("parse CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("check CSR signature: %w", err)
	}
	der, err := ca.sign(r, csr.PublicKey)
	if err != nil {
		return nil, err
	}
	return encodeDER(der), nil
}

func (ca *CA) sign(r Request, pub crypto.PublicKey) ([]byte, error) {
	if r.CommonName == "" {
		return nil, errors.New("issue certificate: common name is required")
	}
	if len(r.Usages) == 0 {
		return nil, fmt.Errorf("issue certificate %q: no key usage", r.CommonName)
	}
	lifetime := r.Lifetime
	if lifetime == 0 {
		lifetime = DefaultLifetime
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("issue certificate %q: serial: %w", r.CommonName, err)
	}
	now := time.Now()
	notAfter := now.Add(lifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: r.CommonName, Organization: r.Organization},
		DNSNames:     r.DNSNames,
		IPAddresses:  r.IPs,
		NotBefore:    now.Add(-min(clockSkew, lifetime/10)),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  r.Usages,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate %q: %w", r.CommonName, err)
	}
	return der, nil
}

// PinHash returns the discovery pin of a CA, "sha256:<hex>" of its DER SubjectPublicKeyInfo, in the
// format of kubeadm's --discovery-token-ca-cert-hash.
func PinHash(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

func encodeDER(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: certutil.CertificateBlockType, Bytes: der})
}
