package tunnel

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

var errDropped = errors.New("tunnel dropped")

// agentConn is one agent connection the server is serving: the network connection the WebSocket
// upgrade hijacked, so that it can be dropped from outside the session.
type agentConn struct {
	cluster string
	done    chan struct{} // closed when the handler serving the connection has returned

	mu       sync.Mutex
	netConn  net.Conn // nil until hijacked
	dropped  bool
	notAfter time.Time   // the session ends then: its certificate's, or a renewed one's
	expiry   clock.Timer // drops the connection at notAfter
}

// expireAt drops c at notAfter (measured on clk), unless extend moves it later.
func (c *agentConn) expireAt(clk clock.WithDelayedExecution, notAfter time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.notAfter = notAfter
	c.expiry = clk.AfterFunc(notAfter.Sub(clk.Now()), c.drop)
}

// extend moves c's end to notAfter when that is later (a renewed certificate of the same cluster).
func (c *agentConn) extend(notAfter, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry == nil || !notAfter.After(c.notAfter) || c.dropped {
		return
	}
	c.notAfter = notAfter
	c.expiry.Reset(notAfter.Sub(now))
}

// stopExpiry stops c's expiry timer once its handler returns.
func (c *agentConn) stopExpiry() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

func newAgentConn(cluster string) *agentConn {
	return &agentConn{cluster: cluster, done: make(chan struct{})}
}

// drop closes the connection, or marks it so that it is closed as soon as it is hijacked. The
// session reading from it then ends, and the remotedialer server forgets it.
func (c *agentConn) drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropped = true
	if c.netConn != nil {
		_ = c.netConn.Close()
	}
}

// hijacked records the connection; it returns false, having closed it, when c was dropped already.
func (c *agentConn) hijacked(conn net.Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		_ = conn.Close()
		return false
	}
	c.netConn = conn
	return true
}

// hijackWriter hands the hijacked connection to its agentConn.
type hijackWriter struct {
	http.ResponseWriter
	conn *agentConn
}

// Hijack hijacks the underlying connection and records it.
func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if !w.conn.hijacked(conn) {
		return nil, nil, errDropped
	}
	return conn, brw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w hijackWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// registry tracks the agent connections of every cluster.
type registry struct {
	mu    sync.Mutex
	conns map[string]map[*agentConn]struct{}
}

func (r *registry) add(c *agentConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.conns == nil {
		r.conns = map[string]map[*agentConn]struct{}{}
	}
	if r.conns[c.cluster] == nil {
		r.conns[c.cluster] = map[*agentConn]struct{}{}
	}
	r.conns[c.cluster][c] = struct{}{}
}

// remove forgets c and tells whoever waits on it that its handler has returned.
func (r *registry) remove(c *agentConn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns[c.cluster], c)
	if len(r.conns[c.cluster]) == 0 {
		delete(r.conns, c.cluster)
	}
	close(c.done)
}

// drop drops every connection of cluster and waits until their handlers have returned.
func (r *registry) drop(cluster string) {
	r.mu.Lock()
	var conns []*agentConn
	for c := range r.conns[cluster] {
		conns = append(conns, c)
	}
	r.mu.Unlock()
	for _, c := range conns {
		c.drop()
	}
	for _, c := range conns {
		<-c.done
	}
}

// extend moves the end of every session of cluster to notAfter (see agentConn.extend).
func (r *registry) extend(cluster string, notAfter, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for c := range r.conns[cluster] {
		c.extend(notAfter, now)
	}
}
