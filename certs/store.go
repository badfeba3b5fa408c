package certs

import (
	"context"
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
	caCommonName = "fleetgate-ca"
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
		if ca, err = NewCA(caCommonName); err != nil {
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
