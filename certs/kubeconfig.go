package certs

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kubeconfig describes a single-context kubeconfig: one server, one user.
type Kubeconfig struct {
	// Name names the cluster, user and context entries.
	Name   string
	Server string
	CAPEM  []byte
	// Either a client certificate and key, or a bearer token.
	CertPEM, KeyPEM []byte
	Token           string
}

// Build returns the kubeconfig as a client-go config object.
func (k Kubeconfig) Build() *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[k.Name] = &clientcmdapi.Cluster{Server: k.Server, CertificateAuthorityData: k.CAPEM}
	cfg.AuthInfos[k.Name] = &clientcmdapi.AuthInfo{
		ClientCertificateData: k.CertPEM,
		ClientKeyData:         k.KeyPEM,
		Token:                 k.Token,
	}
	cfg.Contexts[k.Name] = &clientcmdapi.Context{Cluster: k.Name, AuthInfo: k.Name, Namespace: "default"}
	cfg.CurrentContext = k.Name
	return cfg
}

// Write writes the kubeconfig to path with mode 0600.
func (k Kubeconfig) Write(path string) error {
	if err := clientcmd.WriteToFile(*k.Build(), path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}
