// Package access owns how the gateway reaches a member cluster: given a Cluster name it returns a
// client configuration (HTTP transport and credentials). Push clusters are reached at their
// apiEndpoint with the credentials join stored in the host; Pull clusters through the agent's tunnel,
// with the agent's own credentials added at the member's end. Callers never learn which. A Push
// client reads its token from the cluster's Secret, not from the configuration it was built with, so
// clients built before a renewal send the new token.
//
// It does not create or rotate credentials (bootstrap/ does).
package access
