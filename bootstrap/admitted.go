package bootstrap

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// AgentCertificatesAnnotation lists, newest first and comma-separated, the serial numbers of the
// agent certificates the gateway issued for this Cluster object (registration and renewals). Only
// those are admitted on the tunnel and the renewal endpoint: a certificate names its cluster only,
// so without this a Cluster unjoined and registered again under the same name would admit its
// predecessor's agent until that certificate expired.
const AgentCertificatesAnnotation = "fleetgate.io/agent-certificates"

// admittedKept is how many serials a Cluster keeps: the newest, and the one it renewed (still in
// use until the agent has the new one).
const admittedKept = 2

// Admits reports whether the Cluster admits the agent certificate cert.
func Admits(c *clusterv1alpha1.Cluster, cert *x509.Certificate) bool {
	serial := cert.SerialNumber.String()
	return slices.Contains(strings.Split(c.Annotations[AgentCertificatesAnnotation], ","), serial)
}

// admit records cert as the newest certificate of Cluster name.
func admit(ctx context.Context, clusters *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster], name string, cert *x509.Certificate) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := clusters.Get(ctx, "", name)
		if err != nil {
			return err
		}
		serials := []string{cert.SerialNumber.String()}
		for _, s := range strings.Split(c.Annotations[AgentCertificatesAnnotation], ",") {
			if s != "" && !slices.Contains(serials, s) && len(serials) < admittedKept {
				serials = append(serials, s)
			}
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[AgentCertificatesAnnotation] = strings.Join(serials, ",")
		_, err = clusters.Update(ctx, c, metav1.UpdateOptions{FieldManager: managedByValue})
		return err
	})
}

// PullAllower decides which agents may connect and renew: a registered Pull Cluster, not being
// deleted, that admits the certificate (Admits). Lookup reads the Cluster from a cache; when the
// cached one does not admit the certificate, Live is asked (a registration or renewal may be
// newer than the cache).
type PullAllower struct {
	Lookup func(name string) (*clusterv1alpha1.Cluster, bool)
	Live   *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster]
}

// Allowed implements tunnel.Allower.
func (a PullAllower) Allowed(name string, cert *x509.Certificate) error {
	c, ok := a.Lookup(name)
	if ok && !Admits(c, cert) && a.Live != nil {
		if live, err := a.Live.Get(context.Background(), "", name); err == nil {
			c = live
		} else if apierrors.IsNotFound(err) {
			ok = false
		}
	}
	switch {
	case !ok:
		return fmt.Errorf("cluster %s is not registered", name)
	case c.Spec.SyncMode != clusterv1alpha1.Pull:
		return fmt.Errorf("cluster %s is joined in %s mode, not Pull", name, c.Spec.SyncMode)
	case c.DeletionTimestamp != nil:
		return fmt.Errorf("cluster %s is being deleted", name)
	case !Admits(c, cert):
		return fmt.Errorf("cluster %s does not admit this agent certificate (serial %s): it was issued for an earlier registration of %s, or superseded by renewals", name, cert.SerialNumber, name)
	}
	return nil
}
