package tunnel

import (
	"net"
	"sync"
)

// localConns are the connections an agent session dialed on the gateway's behalf.
type localConns struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// add records conn, or closes it when the session has ended already. It returns conn wrapped so that
// closing it forgets it.
func (l *localConns) add(conn net.Conn) net.Conn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = conn.Close()
		return conn
	}
	if l.conns == nil {
		l.conns = map[net.Conn]struct{}{}
	}
	c := &localConn{Conn: conn, owner: l}
	l.conns[c] = struct{}{}
	return c
}

// closeAll closes every recorded connection and any added later.
func (l *localConns) closeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for c := range l.conns {
		_ = c.(*localConn).Conn.Close()
	}
	l.conns = nil
}

type localConn struct {
	net.Conn
	owner *localConns
}

func (c *localConn) Close() error {
	c.owner.mu.Lock()
	delete(c.owner.conns, c)
	c.owner.mu.Unlock()
	return c.Conn.Close()
}
