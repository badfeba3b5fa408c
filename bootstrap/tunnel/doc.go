// Package tunnel owns the reverse tunnel of Pull-mode clusters: the gateway's end (Server, an
// http.Handler that authenticates an agent by its client certificate and keeps its remotedialer
// session, and a dialer through each cluster's session) and the agent's end (Run, which keeps a
// session open to the gateway and dials, on the gateway's behalf, only the one address it was given).
//
// The cluster a tunnel belongs to comes only from the verified agent certificate (CN
// system:fleetgate:agent:<cluster>, O system:fleetgate:agents), never from a header or the URL, so a
// certificate for cluster A can neither open nor use the tunnel of cluster B. The gateway asks its
// Allower at every new connection; Server.Close drops the sessions a cluster already has. A session
// never outlives the certificate that opened it.
//
// The tunnel carries raw TCP to Options.Address, and the gateway must dial exactly that address.
// The agent terminates it at NewAPIServerProxy, a reverse proxy to the member's apiserver on a local
// listener that replaces any Authorization the gateway sent with the agent's own credentials and
// passes Impersonate-* headers through, so no member credential leaves the member. How the gateway
// learns the address (recorded when the agent registers, or a fixed name the agent maps to its
// listener with Options.Dial) is the wiring's choice.
//
// It does not issue or renew agent certificates (certs/ and bootstrap/ do), decide which clusters
// may connect (the Allower does: the gateway checks that the Cluster exists, is in Pull mode and is
// not being deleted), mount the handler in the front door (proxy/ does), or build the per-cluster
// client configuration (bootstrap/access does, with Server.DialerFor).
//
// Known issue: remotedialer v0.6.1 races on a tunnelled connection's error field when both ends
// close it at once (fixed upstream after v0.6.1); move to the next release when it is tagged.
package tunnel
