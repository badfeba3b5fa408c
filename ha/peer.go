package ha

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/klog/v2"

	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// Peer endpoints, served on the gateway's HTTPS port to other replicas only.
const (
	DialPath    = "/peer/dial"
	HandoffPath = "/peer/handoff"
	ExtendPath  = "/peer/extend"
	// PeerCommonName is the subject of the certificates the replicas call each other with. The
	// gateway CA issues no other certificate with it (agents' are system:fleetgate:agent:<cluster>).
	PeerCommonName = "system:fleetgate:gateway-peer"
	// dialUpgrade is the protocol /peer/dial switches to: the connection then carries the bytes
	// of a connection through the tunnel.
	dialUpgrade = "fleetgate-peer-dial"
	// maxHandoffBody bounds a handoff's body (a template, as large as etcd stores, and its checks).
	maxHandoffBody = 4 << 20
)

// Peers calls the other replicas, with a client certificate of the gateway CA for
// PeerCommonName, verifying theirs against the same CA.
type Peers struct {
	replicas *Replicas
	tls      *tls.Config
	client   *http.Client
}

// NewPeers returns the peer client of replicas; ca is the gateway CA shared by every replica.
func NewPeers(replicas *Replicas, ca *certs.CA) (*Peers, error) {
	certPEM, keyPEM, err := ca.Issue(certs.Request{CommonName: PeerCommonName, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return nil, fmt.Errorf("peer certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("peer certificate: %w", err)
	}
	cfg := &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	return &Peers{replicas: replicas, tls: cfg, client: &http.Client{Transport: &http.Transport{
		TLSClientConfig: cfg, ForceAttemptHTTP2: false, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
	}}}, nil
}

// Dial opens a connection to address through the tunnel of cluster that ends on replica id.
func (p *Peers) Dial(ctx context.Context, id, cluster, network, address string) (net.Conn, error) {
	base, err := p.replicas.PeerURL(id)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: its tunnel is on %w", cluster, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("replica %s: peer URL %q: %w", id, base, err)
	}
	cfg := p.tls.Clone()
	cfg.ServerName = u.Hostname()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: reach replica %s holding its tunnel: %w", cluster, id, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	q := url.Values{"cluster": {cluster}, "network": {network}, "address": {address}}
	req, _ := http.NewRequest(http.MethodGet, "https://"+u.Host+DialPath+"?"+q.Encode(), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", dialUpgrade)
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("cluster %s: through replica %s: %w", cluster, id, err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("cluster %s: through replica %s: %w", cluster, id, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		conn.Close()
		err := fmt.Errorf("cluster %s: through replica %s: %s: %s", cluster, id, resp.Status, bytes.TrimSpace(msg))
		if resp.StatusCode == http.StatusNotFound {
			err = fmt.Errorf("%w (%w)", err, tunnel.ErrNotConnected)
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return &bufferedConn{Conn: conn, r: br}, nil
}

// bufferedConn reads what the response's reader buffered past the header first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// handoffRequest is the body of /peer/handoff.
type handoffRequest struct {
	Group     string                     `json:"group"`
	Kind      string                     `json:"kind"`
	Namespace string                     `json:"namespace,omitempty"`
	Name      string                     `json:"name"`
	Committed *unstructured.Unstructured `json:"committed"`
	Checked   map[string]bool            `json:"checked,omitempty"`
}

// errNotLeading is the leader-elect's answer when it no longer leads.
var errNotLeading = errors.New("not leading")

// Handoff hands a committed template to the reconciler of replica id (the leader) and waits, as
// reconcile.Controller.Handoff does, within ctx.
func (p *Peers) Handoff(ctx context.Context, id string, key reconcile.Key, committed *unstructured.Unstructured, checked map[string]bool) error {
	base, err := p.replicas.PeerURL(id)
	if err != nil {
		return fmt.Errorf("hand over to the leader: %w", err)
	}
	err = p.post(ctx, base+HandoffPath, handoffRequest{Group: key.Kind.Group, Kind: key.Kind.Kind, Namespace: key.Namespace, Name: key.Name,
		Committed: committed, Checked: checked})
	if err != nil {
		return fmt.Errorf("hand over to the leader %s: %w", id, err)
	}
	return nil
}

// post sends body as JSON to a peer's url and wants 204 No Content back; any other answer is an
// error with the peer's message.
func (p *Peers) post(ctx context.Context, url string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// LocalTunnels are this replica's own tunnels (bootstrap/tunnel.Server).
type LocalTunnels interface {
	Connected(cluster string) bool
	Dial(ctx context.Context, cluster, network, addr string) (net.Conn, error)
	Extend(cluster string, notAfter time.Time)
}

// extendRequest is the body of /peer/extend.
type extendRequest struct {
	Cluster  string    `json:"cluster"`
	NotAfter time.Time `json:"notAfter"`
}

// Extend asks replica id to let cluster's tunnel sessions there outlive their certificate, up to
// notAfter (the agent renewed its certificate through another replica).
func (p *Peers) Extend(ctx context.Context, id, cluster string, notAfter time.Time) error {
	base, err := p.replicas.PeerURL(id)
	if err != nil {
		return fmt.Errorf("extend cluster %s's tunnel: %w", cluster, err)
	}
	if err := p.post(ctx, base+ExtendPath, extendRequest{Cluster: cluster, NotAfter: notAfter}); err != nil {
		return fmt.Errorf("extend cluster %s's tunnel on replica %s: %w", cluster, id, err)
	}
	return nil
}

// LocalReconciler is the reconciler as the write pipeline sees it (reconcile.Controller).
type LocalReconciler interface {
	Handoff(ctx context.Context, key reconcile.Key, committed *unstructured.Unstructured, checked map[string]bool) error
	Checked(key reconcile.Key, checked map[string]bool)
}

// PeerHandlers serve the peer endpoints.
type PeerHandlers struct {
	// Roots is the gateway CA's pool; only a certificate it issued for PeerCommonName is a peer's.
	Roots      *x509.CertPool
	Tunnels    LocalTunnels
	Reconciler LocalReconciler
	Elector    *Elector
}

// Handlers maps the peer paths to their handlers.
func (h *PeerHandlers) Handlers() map[string]http.Handler {
	return map[string]http.Handler{
		DialPath:    http.HandlerFunc(h.dial),
		HandoffPath: http.HandlerFunc(h.handoff),
		ExtendPath:  http.HandlerFunc(h.extend),
	}
}

// authenticate admits a peer's request: a client certificate of the gateway CA for PeerCommonName.
func (h *PeerHandlers) authenticate(w http.ResponseWriter, r *http.Request) bool {
	var chain []*x509.Certificate
	if r.TLS != nil {
		chain = r.TLS.PeerCertificates
	}
	err := errors.New("no client certificate")
	if len(chain) > 0 {
		inter := x509.NewCertPool()
		for _, c := range chain[1:] {
			inter.AddCert(c)
		}
		_, err = chain[0].Verify(x509.VerifyOptions{Roots: h.Roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		if err == nil && chain[0].Subject.CommonName != PeerCommonName {
			http.Error(w, fmt.Sprintf("peer: %q is not a gateway replica's certificate", chain[0].Subject.CommonName), http.StatusForbidden)
			return false
		}
	}
	if err != nil {
		http.Error(w, "peer: "+err.Error(), http.StatusUnauthorized)
		return false
	}
	return true
}

func (h *PeerHandlers) dial(w http.ResponseWriter, r *http.Request) {
	if !h.authenticate(w, r) {
		return
	}
	q := r.URL.Query()
	cluster, network, address := q.Get("cluster"), q.Get("network"), q.Get("address")
	if r.Method != http.MethodGet || r.Header.Get("Upgrade") != dialUpgrade || cluster == "" || address == "" {
		http.Error(w, "peer dial: want GET with Upgrade: "+dialUpgrade+" and cluster, network, address", http.StatusBadRequest)
		return
	}
	if !h.Tunnels.Connected(cluster) {
		http.Error(w, fmt.Sprintf("cluster %s: no tunnel connected to this replica", cluster), http.StatusNotFound)
		return
	}
	dctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	member, err := h.Tunnels.Dial(dctx, cluster, network, address)
	cancel()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		member.Close()
		http.Error(w, "peer dial: "+err.Error(), http.StatusInternalServerError)
		return
	}
	_ = conn.SetDeadline(time.Time{})
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + dialUpgrade + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		conn.Close()
		member.Close()
		return
	}
	splice(conn, brw.Reader, member)
}

// splice copies both ways between the peer's connection (whose first bytes may be buffered in
// r) and the member's, and closes both once either side ends.
func splice(peer net.Conn, r io.Reader, member net.Conn) {
	var once sync.Once
	closeBoth := func() { once.Do(func() { peer.Close(); member.Close() }) }
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(member, r)
		closeBoth()
	}()
	_, _ = io.Copy(peer, member)
	closeBoth()
	<-done
}

func (h *PeerHandlers) extend(w http.ResponseWriter, r *http.Request) {
	if !h.authenticate(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "peer extend: want POST", http.StatusMethodNotAllowed)
		return
	}
	var in extendRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil || in.Cluster == "" || in.NotAfter.IsZero() {
		http.Error(w, fmt.Sprintf("peer extend: want {cluster, notAfter} (%v)", err), http.StatusBadRequest)
		return
	}
	h.Tunnels.Extend(in.Cluster, in.NotAfter)
	w.WriteHeader(http.StatusNoContent)
}

func (h *PeerHandlers) handoff(w http.ResponseWriter, r *http.Request) {
	if !h.authenticate(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "peer handoff: want POST", http.StatusMethodNotAllowed)
		return
	}
	if !h.Elector.IsLeader() {
		http.Error(w, "peer handoff: "+errNotLeading.Error(), http.StatusConflict)
		return
	}
	var in handoffRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxHandoffBody)).Decode(&in); err != nil {
		http.Error(w, "peer handoff: body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if in.Kind == "" || in.Name == "" || in.Committed == nil || in.Committed.GetResourceVersion() == "" {
		http.Error(w, "peer handoff: kind, name and a committed object with a resourceVersion are required", http.StatusBadRequest)
		return
	}
	key := reconcile.Key{Kind: schema.GroupKind{Group: in.Group, Kind: in.Kind}, Namespace: in.Namespace, Name: in.Name}
	// The caller gives up (and closes the connection, ending r's context) when its own timeout
	// has passed.
	if err := h.Reconciler.Handoff(r.Context(), key, in.Committed, in.Checked); err != nil {
		klog.FromContext(r.Context()).V(2).Info("A peer's handoff ended before the reconciler dispatched it", "template", key, "err", err)
		http.Error(w, "peer handoff: "+err.Error(), http.StatusGatewayTimeout)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Reconciler is the write pipeline's reconciler on any replica: the leader's own, or the leader's
// through /peer/handoff, so that the leader's per-member queues stay the only writers to members.
type Reconciler struct {
	Local   LocalReconciler
	Elector *Elector
	Peers   *Peers
}

// Handoff gives the committed template to the leader's reconciler and waits for it within ctx.
func (r *Reconciler) Handoff(ctx context.Context, key reconcile.Key, committed *unstructured.Unstructured, checked map[string]bool) error {
	if r.Elector.IsLeader() {
		return r.Local.Handoff(ctx, key, committed, checked)
	}
	leader := r.Elector.Leader()
	if leader == "" {
		return errors.New("no leader elected yet: the leader reconciles the template when elected")
	}
	return r.Peers.Handoff(ctx, leader, key, committed, checked)
}

// Checked tells the local reconciler what member dry-run found, when it leads (a handoff to the
// leader carries it otherwise).
func (r *Reconciler) Checked(key reconcile.Key, checked map[string]bool) {
	if r.Elector.IsLeader() {
		r.Local.Checked(key, checked)
	}
}
