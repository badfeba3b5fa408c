package token

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
	"k8s.io/cluster-bootstrap/token/jws"
)

// ClusterInfoPath is where the gateway serves cluster-info without credentials: the path kubeadm's
// discovery reads, so the shape is the familiar one (a ConfigMap kube-public/cluster-info).
const ClusterInfoPath = "/api/v1/namespaces/kube-public/configmaps/cluster-info"

// ClusterInfo is the gateway's cluster-info: a kubeconfig naming the gateway's address and CA, and
// for every signing token a detached JWS of that kubeconfig (jws-kubeconfig-<id>), with which a
// registering member that knows the token checks that the kubeconfig came from someone who knows it
// too. The CA pin (PinHash) then tells it the CA is the one the token's issuer meant.
func ClusterInfo(server string, caPEM []byte, signing []Token) (*corev1.ConfigMap, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters[""] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	b, err := clientcmd.Write(*kc)
	if err != nil {
		return nil, fmt.Errorf("cluster-info kubeconfig: %w", err)
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: bootstrapapi.ConfigMapClusterInfo, Namespace: metav1.NamespacePublic},
		Data:       map[string]string{bootstrapapi.KubeConfigKey: string(b)},
	}
	for _, t := range signing {
		sig, err := jws.ComputeDetachedSignature(string(b), t.ID, t.Secret)
		if err != nil {
			return nil, fmt.Errorf("sign cluster-info with token %s: %w", t.ID, err)
		}
		cm.Data[bootstrapapi.JWSSignatureKeyPrefix+t.ID] = sig
	}
	return cm, nil
}

// VerifyClusterInfo checks cm's signature for the token and returns the kubeconfig's server and CA
// (PEM). It does not check the CA pin.
func VerifyClusterInfo(cm *corev1.ConfigMap, tokenID, tokenSecret string) (server string, caPEM []byte, err error) {
	kc, ok := cm.Data[bootstrapapi.KubeConfigKey]
	if !ok {
		return "", nil, fmt.Errorf("cluster-info has no %s", bootstrapapi.KubeConfigKey)
	}
	sig, ok := cm.Data[bootstrapapi.JWSSignatureKeyPrefix+tokenID]
	if !ok {
		return "", nil, fmt.Errorf("cluster-info is not signed for token %s: the token is unknown, expired or not for signing", tokenID)
	}
	if !jws.DetachedTokenIsValid(sig, kc, tokenID, tokenSecret) {
		return "", nil, fmt.Errorf("cluster-info's signature for token %s does not verify with the token's secret", tokenID)
	}
	cfg, err := clientcmd.Load([]byte(kc))
	if err != nil {
		return "", nil, fmt.Errorf("cluster-info kubeconfig: %w", err)
	}
	for _, c := range cfg.Clusters {
		return c.Server, c.CertificateAuthorityData, nil
	}
	return "", nil, fmt.Errorf("cluster-info kubeconfig names no cluster")
}

// Marshal is cm as JSON.
func Marshal(cm *corev1.ConfigMap) []byte {
	b, _ := json.Marshal(cm)
	return b
}

// ClusterInfoHandler serves cluster-info (GET only, no credentials needed: it says nothing a
// member could not learn by connecting, and only token holders can check its signatures). secrets
// returns the host's bootstrap-token Secrets (from an informer: an unauthenticated request must
// never cost the host a read).
func ClusterInfoHandler(server string, caPEM []byte, secrets func() []*corev1.Secret, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "cluster-info is read-only", http.StatusMethodNotAllowed)
			return
		}
		cm, err := ClusterInfo(server, caPEM, Signing(secrets(), now()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(Marshal(cm))
	})
}
