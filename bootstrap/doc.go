// Package bootstrap owns how clusters become members and stop being members: Push-mode join and
// unjoin (service accounts in the member, their credentials in the host, the Cluster object); later
// also bootstrap tokens, Pull-mode register, the agent and the tunnel.
//
// It does not decide what is propagated to a member (propagate/ does) and it does not serve requests
// (proxy/ does). How the gateway reaches a joined member is bootstrap/access.
package bootstrap
