package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/access"
)

// UnjoinOptions are the inputs of unjoin.
type UnjoinOptions struct {
	Name string
	Host *rest.Config
	// MemberKubeconfig (optional, and MemberContext) is an admin kubeconfig of the member. With it,
	// everything join created in the member is removed. Without it the stored credentials are used,
	// and the propagator's ClusterRoleBinding is left behind: a service account cannot delete its
	// own rights and itself. The binding grants nothing once its service account is gone, and join
	// adopts it again.
	MemberKubeconfig, MemberContext string
	// Force removes the cluster from the control plane even when the member cannot be reached to
	// remove what join created there.
	Force bool
	Out   io.Writer
}

// Unjoin removes a cluster: first what join created in the member (reached with the credentials
// stored in the host), then its Secrets and the Cluster in the host.
func Unjoin(ctx context.Context, o UnjoinOptions) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	hostClient, clusters, err := hostClients(o.Host)
	if err != nil {
		return err
	}
	c, err := clusters.Get(ctx, "", o.Name)
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster %s is not joined", o.Name)
	}
	if err != nil {
		return fmt.Errorf("read cluster %s: %w", o.Name, err)
	}
	if c.Spec.SyncMode == clusterv1alpha1.Push {
		if err := removeMemberIdentities(ctx, access.NewHost(clusters, hostClient), o, out); err != nil {
			if !o.Force {
				return fmt.Errorf("cluster %s: %w (use --force to unjoin anyway and leave them in the member)", o.Name, err)
			}
			fmt.Fprintf(out, "[member] warning: %v; continuing because of --force\n", err)
		} else {
			fmt.Fprintf(out, "[member] removed the service accounts and RBAC that join created\n")
		}
	}
	var errs []error
	for _, ref := range []*clusterv1alpha1.LocalSecretReference{c.Spec.SecretRef, c.Spec.ImpersonatorSecretRef} {
		if ref == nil {
			continue
		}
		if err := hostClient.CoreV1().Secrets(ref.Namespace).Delete(ctx, ref.Name, metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("delete secret %s/%s: %w", ref.Namespace, ref.Name, err))
		}
	}
	if err := clusters.Delete(ctx, "", o.Name, metav1.DeleteOptions{}); ignoreNotFound(err) != nil {
		errs = append(errs, fmt.Errorf("delete cluster %s: %w", o.Name, err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.Spec.SyncMode == clusterv1alpha1.Pull {
		fmt.Fprintf(out, "[gateway] %s was in Pull mode: the gateway closes its tunnel and refuses its agent's certificate from now on; stop the agent in the member\n", o.Name)
	}
	fmt.Fprintf(out, "cluster(%s) is unjoined successfully\n", o.Name)
	return nil
}

// removeMemberIdentities deletes what createMemberIdentities made, with the member admin kubeconfig if
// given, else with the propagator's own credentials.
func removeMemberIdentities(ctx context.Context, g access.Getter, o UnjoinOptions, out io.Writer) error {
	var cfg *rest.Config
	var err error
	if o.MemberKubeconfig != "" {
		cfg, err = LoadKubeconfig(o.MemberKubeconfig, o.MemberContext)
	} else {
		cfg, err = g.Config(ctx, o.Name)
	}
	if err != nil {
		return err
	}
	member, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	rbac, sas := member.RbacV1(), member.CoreV1().ServiceAccounts(memberNamespace)
	steps := []struct {
		what string
		del  func() error
	}{
		{"cluster role binding " + impersonatorRole, func() error {
			return rbac.ClusterRoleBindings().Delete(ctx, impersonatorRole, metav1.DeleteOptions{})
		}},
		{"cluster role " + impersonatorRole, func() error {
			return rbac.ClusterRoles().Delete(ctx, impersonatorRole, metav1.DeleteOptions{})
		}},
		{"service account " + impersonatorSA, func() error {
			return sas.Delete(ctx, impersonatorSA, metav1.DeleteOptions{})
		}},
		// With the propagator's credentials, this is the last request they can make.
		{"service account " + propagatorSA, func() error {
			return sas.Delete(ctx, propagatorSA, metav1.DeleteOptions{})
		}},
	}
	if o.MemberKubeconfig != "" {
		steps = append(steps, struct {
			what string
			del  func() error
		}{"cluster role binding " + propagatorBinding, func() error {
			return rbac.ClusterRoleBindings().Delete(ctx, propagatorBinding, metav1.DeleteOptions{})
		}})
	}
	for _, s := range steps {
		if err := s.del(); ignoreNotFound(err) != nil {
			return fmt.Errorf("delete %s in the member: %w", s.what, err)
		}
	}
	if o.MemberKubeconfig == "" {
		fmt.Fprintf(out, "[member] left cluster role binding %s (it grants nothing without service account %s/%s); pass --cluster-kubeconfig to remove it too\n",
			propagatorBinding, memberNamespace, propagatorSA)
	}
	return nil
}
