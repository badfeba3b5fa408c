// Package bootstrap owns how clusters become members and stop being members: Push-mode join and
// unjoin (service accounts in the member, their credentials in the host, the Cluster object), and
// Pull-mode registration: register's client side, the register and renew endpoints, the certificate
// signers (the gateway CA or cert-manager), which agent certificates a Cluster admits, and the agent
// (RunAgent). Bootstrap tokens are bootstrap/token; the tunnel is bootstrap/tunnel.
//
// It does not decide what is propagated to a member (propagate/ does) and it does not route requests
// (proxy/ mounts its endpoints). How the gateway reaches a joined member is bootstrap/access.
package bootstrap
