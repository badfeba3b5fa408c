package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	rbacv1client "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fleetgate/fleetgate/apis/client"
	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	"github.com/fleetgate/fleetgate/bootstrap/access"
	"github.com/fleetgate/fleetgate/certs"
)

// What join creates in a member (all in kube-system, so that nothing is left behind in a namespace
// that a member without a namespace controller could not finish deleting).
const (
	memberNamespace        = "kube-system"
	propagatorSA           = "fleetgate-propagator"
	impersonatorSA         = "fleetgate-impersonator"
	propagatorBinding      = "fleetgate:propagator"
	impersonatorRole       = "fleetgate:impersonator"
	managedByLabel         = "app.kubernetes.io/managed-by"
	managedByValue         = "fleetgate"
	clusterLabel           = access.ClusterLabel
	maxClusterNameLength   = 48
	defaultTokenExpiration = 365 * 24 * time.Hour
)

// JoinOptions are the inputs of a Push-mode join.
type JoinOptions struct {
	// Name of the new Cluster.
	Name string
	// Host is how to reach the control plane (normally the gateway kubeconfig).
	Host *rest.Config
	// MemberKubeconfig is the path of the member's kubeconfig; MemberContext picks a context in it
	// (default: current).
	MemberKubeconfig, MemberContext string
	// TokenExpiration of the credentials created in the member (default one year).
	TokenExpiration time.Duration
	// Out receives progress lines; nil discards them.
	Out io.Writer
}

// Join makes a member cluster reachable in Push mode: it creates, in the member, a service account
// for propagation and one for impersonation; stores their tokens and the member's CA in Secrets in the
// host; and creates the Cluster. Everything is checked before anything is created, and whatever was
// created is removed again if a later step fails.
func Join(ctx context.Context, o JoinOptions) error {
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	if err := ValidateClusterName(o.Name); err != nil {
		return err
	}
	memberCfg, err := LoadKubeconfig(o.MemberKubeconfig, o.MemberContext)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", o.Name, err)
	}
	member, err := kubernetes.NewForConfig(memberCfg)
	if err != nil {
		return fmt.Errorf("cluster %s: %w", o.Name, err)
	}
	hostClient, clusters, err := hostClients(o.Host)
	if err != nil {
		return err
	}

	// Preflight: the member answers and accepts the kubeconfig; the name is free.
	v, err := member.Discovery().ServerVersion()
	if apierrors.IsUnauthorized(err) {
		return fmt.Errorf("cluster %s: the credentials in kubeconfig %s are rejected by %s (401 Unauthorized)", o.Name, o.MemberKubeconfig, memberCfg.Host)
	}
	if err != nil {
		return fmt.Errorf("cluster %s: cannot use kubeconfig %s against %s: %w", o.Name, o.MemberKubeconfig, memberCfg.Host, err)
	}
	fmt.Fprintf(out, "[preflight] cluster %s at %s runs Kubernetes %s\n", o.Name, memberCfg.Host, v.GitVersion)
	if _, err := clusters.Get(ctx, "", o.Name); err == nil {
		return fmt.Errorf("cluster %s is already joined; unjoin it first", o.Name)
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("check cluster %s in the control plane: %w", o.Name, err)
	}

	var undo undoStack
	fail := func(err error) error {
		if uerr := undo.run(); uerr != nil {
			return fmt.Errorf("%w (cleanup also failed: %v)", err, uerr)
		}
		return err
	}
	exp := o.TokenExpiration
	if exp == 0 {
		exp = defaultTokenExpiration
	}
	propToken, impToken, err := createMemberIdentities(ctx, member, exp, &undo)
	if err != nil {
		return fail(fmt.Errorf("cluster %s: %w", o.Name, err))
	}
	fmt.Fprintf(out, "[member] created service accounts %s/%s and %s/%s\n", memberNamespace, propagatorSA, memberNamespace, impersonatorSA)

	if err := certs.EnsureNamespace(ctx, hostClient, certs.Namespace); err != nil {
		return fail(err)
	}
	caBundle := memberCfg.CAData
	propRef := clusterv1alpha1.LocalSecretReference{Namespace: certs.Namespace, Name: o.Name}
	impRef := clusterv1alpha1.LocalSecretReference{Namespace: certs.Namespace, Name: o.Name + "-impersonator"}
	for _, s := range []struct {
		ref   clusterv1alpha1.LocalSecretReference
		token string
	}{{propRef, propToken}, {impRef, impToken}} {
		if err := createHostSecret(ctx, hostClient, o.Name, s.ref, s.token, caBundle, &undo); err != nil {
			return fail(err)
		}
	}
	cluster := &clusterv1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: o.Name},
		Spec: clusterv1alpha1.ClusterSpec{
			SyncMode:                    clusterv1alpha1.Push,
			APIEndpoint:                 memberCfg.Host,
			SecretRef:                   &propRef,
			ImpersonatorSecretRef:       &impRef,
			InsecureSkipTLSVerification: memberCfg.Insecure,
		},
	}
	if _, err := clusters.Create(ctx, cluster, metav1.CreateOptions{FieldManager: managedByValue}); err != nil {
		if apierrors.IsAlreadyExists(err) {
			err = fmt.Errorf("cluster %s is already joined; unjoin it first", o.Name)
		}
		return fail(fmt.Errorf("create cluster %s: %w", o.Name, err))
	}
	fmt.Fprintf(out, "cluster(%s) is joined successfully\n", o.Name)
	return nil
}

// hostClients returns the typed and Cluster clients of the control plane.
func hostClients(cfg *rest.Config) (kubernetes.Interface, *client.Resource[clusterv1alpha1.Cluster, *clusterv1alpha1.Cluster], error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("control plane client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("control plane client: %w", err)
	}
	return kube, client.Clusters(dyn), nil
}

// ValidateClusterName checks a cluster name: a DNS-1123 label of at most 48 characters.
func ValidateClusterName(name string) error {
	if name == "" {
		return errors.New("cluster name is required")
	}
	if len(name) > maxClusterNameLength {
		return fmt.Errorf("cluster name %q: must be no more than %d characters", name, maxClusterNameLength)
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return fmt.Errorf("cluster name %q: %s", name, errs[0])
	}
	return nil
}

// LoadKubeconfig reads a kubeconfig file (and context) into a client configuration.
func LoadKubeconfig(path, context string) (*rest.Config, error) {
	if path == "" {
		return nil, errors.New("a kubeconfig path is required")
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: path},
		&clientcmd.ConfigOverrides{CurrentContext: context},
	).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig %s: %w", path, err)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Second
	}
	return cfg, nil
}

// createMemberIdentities creates the propagation and impersonation service accounts with their RBAC
// and requests a token for each.
func createMemberIdentities(ctx context.Context, member kubernetes.Interface, exp time.Duration, undo *undoStack) (propToken, impToken string, err error) {
	labels := map[string]string{managedByLabel: managedByValue}
	opts := metav1.CreateOptions{FieldManager: managedByValue}
	sas := member.CoreV1().ServiceAccounts(memberNamespace)
	for _, name := range []string{propagatorSA, impersonatorSA} {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: memberNamespace, Labels: labels}}
		_, err := sas.Create(ctx, sa, opts)
		if apierrors.IsAlreadyExists(err) {
			// Left by an unjoin --force that could not reach the member: adopt it if it is ours.
			if cur, gerr := sas.Get(ctx, name, metav1.GetOptions{}); gerr == nil && cur.Labels[managedByLabel] == managedByValue {
				err = nil
			} else {
				err = fmt.Errorf("it exists and was not created by fleetgate")
			}
		}
		if err != nil {
			return "", "", fmt.Errorf("create service account %s/%s: %w", memberNamespace, name, err)
		}
		undo.push(func(ctx context.Context) error { return ignoreNotFound(sas.Delete(ctx, name, metav1.DeleteOptions{})) })
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: impersonatorRole, Labels: labels},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"users", "groups", "serviceaccounts"}, Verbs: []string{"impersonate"}},
			// Every userextras/<key> and uids: RBAC has no "userextras/*" wildcard (only "*" and
			// "*/<subresource>"), so that rule matched no extra and any caller with extras (service
			// account tokens, 1.37 client certificates' credential-id) could not be impersonated.
			{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"*"}, Verbs: []string{"impersonate"}},
		},
	}
	roles := member.RbacV1().ClusterRoles()
	_, err = roles.Create(ctx, role, opts)
	if apierrors.IsAlreadyExists(err) {
		if cur, gerr := roles.Get(ctx, impersonatorRole, metav1.GetOptions{}); gerr == nil && cur.Labels[managedByLabel] == managedByValue {
			cur.Rules = role.Rules
			_, err = roles.Update(ctx, cur, metav1.UpdateOptions{FieldManager: managedByValue})
		} else {
			err = fmt.Errorf("it exists and was not created by fleetgate")
		}
	}
	if err != nil {
		return "", "", fmt.Errorf("create cluster role %s: %w", impersonatorRole, err)
	}
	undo.push(func(ctx context.Context) error {
		return ignoreNotFound(roles.Delete(ctx, impersonatorRole, metav1.DeleteOptions{}))
	})
	bindings := member.RbacV1().ClusterRoleBindings()
	for _, b := range []struct{ name, role, sa string }{
		{propagatorBinding, "cluster-admin", propagatorSA},
		{impersonatorRole, impersonatorRole, impersonatorSA},
	} {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: b.name, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: b.role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: memberNamespace, Name: b.sa}},
		}
		if err := createOrAdoptBinding(ctx, bindings, crb, opts); err != nil {
			return "", "", err
		}
		name := b.name
		undo.push(func(ctx context.Context) error {
			return ignoreNotFound(bindings.Delete(ctx, name, metav1.DeleteOptions{}))
		})
	}
	tokens := make([]string, 2)
	for i, name := range []string{propagatorSA, impersonatorSA} {
		secs := int64(exp / time.Second)
		tr, err := sas.CreateToken(ctx, name, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
		}, metav1.CreateOptions{})
		if err != nil {
			return "", "", fmt.Errorf("request token for %s/%s: %w", memberNamespace, name, err)
		}
		tokens[i] = tr.Status.Token
	}
	return tokens[0], tokens[1], nil
}

// createOrAdoptBinding creates a ClusterRoleBinding, or takes over one that an earlier unjoin left
// (same name, labelled as ours). A binding of that name that is not ours is a conflict.
func createOrAdoptBinding(ctx context.Context, bindings rbacv1client.ClusterRoleBindingInterface, crb *rbacv1.ClusterRoleBinding, opts metav1.CreateOptions) error {
	_, err := bindings.Create(ctx, crb, opts)
	if !apierrors.IsAlreadyExists(err) {
		if err != nil {
			return fmt.Errorf("create cluster role binding %s: %w", crb.Name, err)
		}
		return nil
	}
	old, err := bindings.Get(ctx, crb.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read cluster role binding %s: %w", crb.Name, err)
	}
	if old.Labels[managedByLabel] != managedByValue || old.RoleRef != crb.RoleRef {
		return fmt.Errorf("cluster role binding %s already exists and was not created by fleetgate", crb.Name)
	}
	old.Subjects = crb.Subjects
	if _, err := bindings.Update(ctx, old, metav1.UpdateOptions{FieldManager: opts.FieldManager}); err != nil {
		return fmt.Errorf("adopt cluster role binding %s: %w", crb.Name, err)
	}
	return nil
}

func createHostSecret(ctx context.Context, host kubernetes.Interface, cluster string, ref clusterv1alpha1.LocalSecretReference, token string, ca []byte, undo *undoStack) error {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: ref.Name, Namespace: ref.Namespace,
			Labels: map[string]string{managedByLabel: managedByValue, clusterLabel: cluster},
		},
		Data: map[string][]byte{clusterv1alpha1.SecretTokenKey: []byte(token), clusterv1alpha1.SecretCADataKey: ca},
	}
	secrets := host.CoreV1().Secrets(ref.Namespace)
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: managedByValue}); err != nil {
		return fmt.Errorf("store credentials of cluster %s in secret %s/%s: %w", cluster, ref.Namespace, ref.Name, err)
	}
	undo.push(func(ctx context.Context) error {
		return ignoreNotFound(secrets.Delete(ctx, ref.Name, metav1.DeleteOptions{}))
	})
	return nil
}

// undoStack runs cleanup steps in reverse order, on a fresh context so that a cancelled join still
// cleans up.
type undoStack []func(context.Context) error

func (u *undoStack) push(f func(context.Context) error) { *u = append(*u, f) }

func (u *undoStack) run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for i := len(*u) - 1; i >= 0; i-- {
		errs = append(errs, (*u)[i](ctx))
	}
	*u = nil
	return errors.Join(errs...)
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
