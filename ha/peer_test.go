package ha

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/fleetgate/fleetgate/bootstrap/tunnel"
	"github.com/fleetgate/fleetgate/certs"
	"github.com/fleetgate/fleetgate/propagate/reconcile"
)

// fakeTunnels "holds" the tunnels of the clusters it names, each dialing addr (an echo server)
// whatever address is asked for.
type fakeTunnels struct {
	connected map[string]string
	asked     chan string
}

func (f *fakeTunnels) Connected(cluster string) bool { return f.connected[cluster] != "" }

func (f *fakeTunnels) Extend(cluster string, notAfter time.Time) {
	f.asked <- "extend " + cluster + " " + notAfter.UTC().Format(time.RFC3339)
}

func (f *fakeTunnels) Dial(ctx context.Context, cluster, network, addr string) (net.Conn, error) {
	f.asked <- cluster + " " + network + " " + addr
	var d net.Dialer
	return d.DialContext(ctx, "tcp", f.connected[cluster])
}

// echo serves a line-echo on loopback and returns its address.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// peerServer serves h's peer endpoints over TLS with a serving certificate of ca for 127.0.0.1,
// asking for client certificates as the front door does, and returns a Replicas that knows it as
// replica "holder".
func peerServer(t *testing.T, ca *certs.CA, h *PeerHandlers) *Replicas {
	t.Helper()
	mux := http.NewServeMux()
	for path, handler := range h.Handlers() {
		mux.Handle(path, handler)
	}
	srv := httptest.NewUnstartedServer(mux)
	crt, key, err := ca.Issue(certs.Request{CommonName: "fleetgate-gateway", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	kube := fake.NewClientset(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: ReplicaLeasePrefix + "holder", Namespace: "ns", Labels: map[string]string{ReplicaLabel: "true"},
			Annotations: map[string]string{PeerURLAnnotation: srv.URL}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("holder"), LeaseDurationSeconds: ptr.To(int32(3600)), RenewTime: ptr.To(metav1.NowMicro())},
	})
	r := NewReplicas(kube, "ns", "caller", "https://127.0.0.1:1", 0)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r.factory.Start(ctx.Done())
	if !waitSynced(ctx, r.factory) {
		t.Fatal("replica Leases not synced")
	}
	return r
}

func waitSynced(ctx context.Context, f informers.SharedInformerFactory) bool {
	for _, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return false
		}
	}
	return true
}

// TestDialThroughThePeerHoldingTheTunnel: a replica dials a Pull member through the replica its
// tunnel ends on — bytes go both ways — and learns at once when that replica holds no tunnel for
// the cluster (tunnel.ErrNotConnected), or is not a live replica.
func TestDialThroughThePeerHoldingTheTunnel(t *testing.T) {
	ca, err := certs.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	tunnels := &fakeTunnels{connected: map[string]string{"member2": echo(t)}, asked: make(chan string, 1)}
	replicas := peerServer(t, ca, &PeerHandlers{Roots: ca.Pool(), Tunnels: tunnels})
	peers, err := NewPeers(replicas, ca)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := peers.Dial(ctx, "holder", "member2", "tcp", tunnel.AgentAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got, want := <-tunnels.asked, "member2 tcp "+tunnel.AgentAddress; got != want {
		t.Errorf("the holder dialed %q, want %q", got, want)
	}
	if _, err := io.WriteString(conn, "hello through the peer\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "hello through the peer\n" {
		t.Fatalf("echo through the peer: %q, %v", line, err)
	}

	if _, err := peers.Dial(ctx, "holder", "member3", "tcp", tunnel.AgentAddress); !errors.Is(err, tunnel.ErrNotConnected) || !strings.Contains(err.Error(), "member3") {
		t.Errorf("dial a cluster the holder has no tunnel for: %v, want tunnel.ErrNotConnected naming member3", err)
	}
	if _, err := peers.Dial(ctx, "gone", "member2", "tcp", tunnel.AgentAddress); !errors.Is(err, ErrReplicaUnknown) {
		t.Errorf("dial through a replica without a Lease: %v, want ErrReplicaUnknown", err)
	}
}

// TestPeerEndpointsAdmitOnlyPeers: without a client certificate, with one of another CA, or with
// one of the gateway CA for any other subject (a user's, an agent's), the peer endpoints refuse
// and dial nothing.
func TestPeerEndpointsAdmitOnlyPeers(t *testing.T) {
	ca, _ := certs.NewCA("test-ca")
	other, _ := certs.NewCA("other-ca")
	tunnels := &fakeTunnels{connected: map[string]string{"member2": echo(t)}, asked: make(chan string, 1)}
	replicas := peerServer(t, ca, &PeerHandlers{Roots: ca.Pool(), Tunnels: tunnels})
	url, _ := replicas.PeerURL("holder")
	client := func(signer *certs.CA, cn string) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool()}
		if signer != nil {
			crt, key, err := signer.Issue(certs.Request{CommonName: cn, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			if err != nil {
				t.Fatal(err)
			}
			pair, _ := tls.X509KeyPair(crt, key)
			cfg.Certificates = []tls.Certificate{pair}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	}
	for name, tc := range map[string]struct {
		client *http.Client
		code   int
	}{
		"no certificate":                 {client(nil, ""), http.StatusUnauthorized},
		"another CA's peer certificate":  {client(other, PeerCommonName), http.StatusUnauthorized},
		"an agent's certificate":         {client(ca, tunnel.AgentUserPrefix+"member2"), http.StatusForbidden},
		"a user's certificate (masters)": {client(ca, "admin"), http.StatusForbidden},
	} {
		for _, path := range []string{DialPath + "?cluster=member2&network=tcp&address=x", HandoffPath, ExtendPath} {
			req, _ := http.NewRequest(http.MethodGet, url+path, nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", dialUpgrade)
			if path == HandoffPath || path == ExtendPath {
				req.Method = http.MethodPost
			}
			resp, err := tc.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", name, path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Errorf("%s %s: %s, want %d", name, path, resp.Status, tc.code)
			}
		}
	}
	select {
	case got := <-tunnels.asked:
		t.Errorf("a refused caller made the replica dial %s", got)
	default:
	}
}

// localAgents is a replica's own tunnel server without the agent's sessions.
type localAgents struct{ *fakeTunnels }

func (localAgents) Authenticate(*http.Request) (string, *x509.Certificate, error) {
	return "", nil, errors.New("not used")
}

// TestRenewalExtendsTheSessionOnTheHoldingReplica: an agent renewing through a replica that does
// not hold its tunnel has its session extended on the replica that does (and here, harmlessly).
func TestRenewalExtendsTheSessionOnTheHoldingReplica(t *testing.T) {
	ca, err := certs.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	holder := &fakeTunnels{connected: map[string]string{"member2": echo(t)}, asked: make(chan string, 1)}
	replicas := peerServer(t, ca, &PeerHandlers{Roots: ca.Pool(), Tunnels: holder})
	peers, err := NewPeers(replicas, ca)
	if err != nil {
		t.Fatal(err)
	}
	here := localAgents{&fakeTunnels{connected: map[string]string{}, asked: make(chan string, 1)}}
	a := &Agents{AgentTunnels: here, Holder: func(string) string { return "holder" }, Peers: peers, Self: "caller"}
	notAfter := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	a.Extend("member2", notAfter)
	want := "extend member2 2027-01-02T03:04:05Z"
	if got := <-here.asked; got != want {
		t.Errorf("here: %q, want %q", got, want)
	}
	select {
	case got := <-holder.asked:
		if got != want {
			t.Errorf("on the holding replica: %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the holding replica was never asked to extend the session")
	}
}

// recordingReconciler records the handoffs it gets.
type recordingReconciler struct{ handoffs chan string }

func (r *recordingReconciler) Handoff(_ context.Context, key reconcile.Key, committed *unstructured.Unstructured, checked map[string]bool) error {
	r.handoffs <- fmt.Sprintf("%s %s rv=%s checked=%v", key.Kind.Kind, key.Name, committed.GetResourceVersion(), checked)
	return nil
}

func (r *recordingReconciler) Checked(reconcile.Key, map[string]bool) {}

// TestFollowerHandsWritesToTheLeader: on a replica that does not lead, the write pipeline's
// handoff goes to the leader's reconciler (with the committed object and what member dry-run
// checked), never to its own, which must not write to members.
func TestFollowerHandsWritesToTheLeader(t *testing.T) {
	ca, err := certs.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	kube := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	elect := func(id string) *Elector {
		e, err := NewElector(ElectorOptions{Kube: kube, Namespace: "ns", ID: id, LeaseDuration: time.Hour, RenewDeadline: 30 * time.Second, RetryPeriod: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = e.Run(ctx) }()
		return e
	}
	leader := elect("holder")
	select {
	case <-leader.Leading():
	case <-time.After(10 * time.Second):
		t.Fatal("the only replica was not elected")
	}
	follower := elect("caller")
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return follower.Leader() == "holder", nil
	}); err != nil {
		t.Fatalf("the follower never observed the leader (sees %q)", follower.Leader())
	}
	onLeader := &recordingReconciler{handoffs: make(chan string, 1)}
	replicas := peerServer(t, ca, &PeerHandlers{Roots: ca.Pool(), Reconciler: onLeader, Elector: leader})
	peers, err := NewPeers(replicas, ca)
	if err != nil {
		t.Fatal(err)
	}
	onFollower := &recordingReconciler{handoffs: make(chan string, 1)}
	r := &Reconciler{Local: onFollower, Elector: follower, Peers: peers}
	committed := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "cm", "namespace": "ns", "resourceVersion": "7"}}}
	key := reconcile.Key{Kind: schema.GroupKind{Kind: "ConfigMap"}, Namespace: "ns", Name: "cm"}
	if err := r.Handoff(ctx, key, committed, map[string]bool{"member1": true}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-onLeader.handoffs:
		if want := "ConfigMap cm rv=7 checked=map[member1:true]"; got != want {
			t.Errorf("the leader's reconciler got %q, want %q", got, want)
		}
	default:
		t.Error("the leader's reconciler got no handoff") // Handoff returned: it would have by now
	}
	select {
	case got := <-onFollower.handoffs:
		t.Errorf("the follower's own reconciler got a handoff: %s", got)
	default:
	}
}
