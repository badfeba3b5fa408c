package certs

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Where the gateway CA lives in the host.
const (
	Namespace    = "fleetgate-system"
	CASecretName = "fleetgate-ca"
	// CACommonName is the gateway CA's subject.
	CACommonName = "fleetgate-ca"
)

// EnsureCA returns the gateway CA stored in the host, creating it (and its namespace) on first use.
// Concurrent callers agree on one CA: whoever loses the create race reads the winner's.
func EnsureCA(ctx context.Context, host kubernetes.Interface) (*CA, error) {
	if err := EnsureNamespace(ctx, host, Namespace); err != nil {
		return nil, err
	}
	secrets := host.CoreV1().Secrets(Namespace)
	s, err := secrets.Get(ctx, CASecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		var ca *CA
		if ca, err = NewCA(CACommonName); err != nil {
			return nil, err
		}
		keyPEM, err := ca.KeyPEM()
		if err != nil {
			return nil, err
		}
		s = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: CASecretName, Namespace: Namespace},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: ca.CertPEM(), corev1.TLSPrivateKeyKey: keyPEM},
		}
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "fleetgate"})
		if err == nil {
			return ca, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("store CA in secret %s/%s: %w", Namespace, CASecretName, err)
		}
		s, err = secrets.Get(ctx, CASecretName, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("read CA secret %s/%s: %w", Namespace, CASecretName, err)
	}
	ca, err := ParseCA(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: %w", Namespace, CASecretName, err)
	}
	return ca, nil
}

// EnsureNamespace creates a namespace if it does not exist (read first: a restart writes nothing).
func EnsureNamespace(ctx context.Context, c kubernetes.Interface, name string) error {
	if _, err := c.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err == nil {
		return nil
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: "fleetgate"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}

// ErrOtherCA is wrapped by SeedCA's error when the host already holds a different gateway CA.
var ErrOtherCA = errors.New("the host holds another gateway CA")

// SeedCA stores ca as the gateway CA in the host (the Secret EnsureCA reads), so that a gateway
// started there uses a CA made elsewhere (by `fleetgate init`, which wrote kubeconfigs trusting it).
// It never overwrites: when the Secret exists with the same certificate it does nothing, and with
// another one it fails with ErrOtherCA. It reports whether it created the Secret.
func SeedCA(ctx context.Context, host kubernetes.Interface, ca *CA) (created bool, err error) {
	if err := EnsureNamespace(ctx, host, Namespace); err != nil {
		return false, err
	}
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return false, err
	}
	secrets := host.CoreV1().Secrets(Namespace)
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: CASecretName, Namespace: Namespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: ca.CertPEM(), corev1.TLSPrivateKeyKey: keyPEM},
	}
	_, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "fleetgate"})
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("store CA in secret %s/%s: %w", Namespace, CASecretName, err)
	}
	existing, err := secrets.Get(ctx, CASecretName, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("read CA secret %s/%s: %w", Namespace, CASecretName, err)
	}
	held, err := ParseCA(existing.Data[corev1.TLSCertKey], existing.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return false, fmt.Errorf("secret %s/%s: %w", Namespace, CASecretName, err)
	}
	if !held.Cert.Equal(ca.Cert) {
		return false, fmt.Errorf("secret %s/%s: %w (%q, serial %s) than the one given (%q, serial %s); it is never overwritten",
			Namespace, CASecretName, ErrOtherCA, held.Cert.Subject.CommonName, held.Cert.SerialNumber, ca.Cert.Subject.CommonName, ca.Cert.SerialNumber)
	}
	return false, nil
}
