package bootstrap

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// SecretCredentials is an AgentOptions.SaveCredentials that writes a renewed agent.pem into the
// Secret the agent's Dir is mounted from (deploy/agent: fleetgate-system/fleetgate-agent, with the
// agent's own access to its member), so a restarted agent starts with its newest certificate: the
// Cluster admits only the current serial and the one it renewed. The other keys are kept.
func SecretCredentials(member kubernetes.Interface, namespace, name string) func(context.Context, []byte) error {
	return func(ctx context.Context, agentPEM []byte) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			s, err := member.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return fmt.Errorf("read secret %s/%s: %w", namespace, name, err)
			}
			if s.Data == nil {
				s.Data = map[string][]byte{}
			}
			s.Data[AgentCredentialsFile] = agentPEM
			if _, err := member.CoreV1().Secrets(namespace).Update(ctx, s, metav1.UpdateOptions{FieldManager: "fleetgate-agent"}); err != nil {
				return fmt.Errorf("update secret %s/%s: %w", namespace, name, err)
			}
			return nil
		})
	}
}
