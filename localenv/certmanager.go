package localenv

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"time"

	"github.com/fleetgate/fleetgate/certs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// certManagerCRDs are cert-manager's CertificateRequest, ClusterIssuer and Issuer CRDs (see
// certmanager/README.md for their version).
//
//go:embed certmanager/*.yaml
var certManagerCRDs embed.FS

const (
	// CertManagerNamespace is cert-manager's cluster resource namespace in the host: the Secrets that
	// ClusterIssuers name (spec.ca.secretName) are read from there.
	CertManagerNamespace = "cert-manager"
	// certManagerUser is the common name of the controller's client certificate (in system:masters, so
	// it needs no RBAC).
	certManagerUser = "system:localenv:cert-manager"
	// certManagerKubeconfig is the controller's credential, in the host's directory.
	certManagerKubeconfig = "cert-manager.kubeconfig"
	// certManagerTimeout bounds the wait for the CRDs to be Established.
	certManagerTimeout = time.Minute
	fieldManager       = "localenv"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// startCertManager installs cert-manager's CRDs into the host (server-side apply) and waits until they
// are Established, creates CertManagerNamespace, and starts <bin>/cert-manager-controller against the
// host. It does not wait for the controller: it has no health endpoint, and its first effect (a
// ClusterIssuer becoming Ready) is what a test waits for anyway.
func (e *Env) startCertManager(ctx context.Context) error {
	began := time.Now()
	dyn, err := dynamic.NewForConfig(e.Host.Config)
	if err != nil {
		return fmt.Errorf("cert-manager: %w", err)
	}
	crds, err := loadCRDs()
	if err != nil {
		return fmt.Errorf("cert-manager CRDs: %w", err)
	}
	for _, crd := range crds {
		_, err := dyn.Resource(crdResource).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
		if err != nil {
			return fmt.Errorf("cert-manager: apply CRD %s: %w", crd.GetName(), err)
		}
	}
	err = waitFor(ctx, "cert-manager CRDs Established", certManagerTimeout, []*process{e.Host.apiserver}, func(ctx context.Context) error {
		for _, crd := range crds {
			got, err := dyn.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if !crdEstablished(got) {
				return fmt.Errorf("CRD %s is not Established", crd.GetName())
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: CertManagerNamespace}}
	if _, err := e.Host.client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("cert-manager: create namespace %s: %w", CertManagerNamespace, err)
	}
	kc, err := clientKubeconfig(e.Host.CA, hostName, e.Host.Server, certManagerUser)
	if err != nil {
		return fmt.Errorf("cert-manager credential: %w", err)
	}
	kubeconfig := e.Host.layout.path(certManagerKubeconfig)
	if err := kc.Write(kubeconfig); err != nil {
		return err
	}
	p := &process{
		name:    hostName + "-" + binCertManager,
		path:    filepath.Join(e.BinDir, binCertManager),
		args:    certManagerArgs(kubeconfig, CertManagerNamespace),
		logPath: filepath.Join(e.Dir, "logs", hostName+"-"+binCertManager+".log"),
	}
	e.mu.Lock()
	e.certManager = p
	e.mu.Unlock()
	if err := p.start(); err != nil {
		return err
	}
	e.CertManagerNamespace = CertManagerNamespace
	e.printf("cert-manager CRDs and controller in the host in %s", time.Since(began).Round(10*time.Millisecond))
	return nil
}

// loadCRDs decodes the embedded CRDs.
func loadCRDs() ([]*unstructured.Unstructured, error) {
	entries, err := certManagerCRDs.ReadDir("certmanager")
	if err != nil {
		return nil, err
	}
	var crds []*unstructured.Unstructured
	for _, entry := range entries {
		data, err := certManagerCRDs.ReadFile(path.Join("certmanager", entry.Name()))
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var obj map[string]any
			if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", entry.Name(), err)
			}
			if obj == nil { // an empty document
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			if u.GetKind() != "CustomResourceDefinition" {
				return nil, fmt.Errorf("%s: a %s, not a CustomResourceDefinition", entry.Name(), u.GetKind())
			}
			crds = append(crds, u)
		}
	}
	return crds, nil
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" {
			return m["status"] == "True"
		}
	}
	return false
}

var clusterIssuersResource = schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: "clusterissuers"}

// CreateCAClusterIssuer creates a new CA, its key pair as a kubernetes.io/tls Secret in
// CertManagerNamespace, and a cert-manager CA ClusterIssuer name signing with it, and waits until
// cert-manager reports the issuer Ready. It needs Options.CertManager.
func (e *Env) CreateCAClusterIssuer(ctx context.Context, name string) (*certs.CA, error) {
	if e.CertManagerNamespace == "" {
		return nil, errors.New("create ClusterIssuer: the environment runs no cert-manager (Options.CertManager)")
	}
	ca, err := certs.NewCA("localenv issuer " + name)
	if err != nil {
		return nil, err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	if _, err := e.Host.client.CoreV1().Secrets(e.CertManagerNamespace).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: ca.CertPEM(), corev1.TLSPrivateKeyKey: key},
	}, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		return nil, fmt.Errorf("create ClusterIssuer %s: its Secret: %w", name, err)
	}
	dyn, err := dynamic.NewForConfig(e.Host.Config)
	if err != nil {
		return nil, err
	}
	issuers := dyn.Resource(clusterIssuersResource)
	if _, err := issuers.Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cert-manager.io/v1",
		"kind":       "ClusterIssuer",
		"metadata":   map[string]any{"name": name},
		"spec":       map[string]any{"ca": map[string]any{"secretName": name}},
	}}, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		return nil, fmt.Errorf("create ClusterIssuer %s: %w", name, err)
	}
	last := "not read yet"
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, certManagerTimeout, true, func(ctx context.Context) (bool, error) {
		obj, err := issuers.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
		last = fmt.Sprint(conds)
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("ClusterIssuer %s not Ready (conditions %s; see logs/host-cert-manager-controller.log): %w", name, last, err)
	}
	return ca, nil
}
