package localenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowestPort is the lowest port freePorts hands out.
const lowestPort = 10000

// freePorts returns n distinct ports that were free on 127.0.0.1 a moment ago. They are chosen at
// random below the kernel's ephemeral range when there is room: outgoing connections get their source
// ports from that range, so none of them can take a port between its allocation and the listen of its
// process, nor while a killed apiserver or gateway is restarted on it.
func freePorts(n int) ([]int, error) {
	lo, hi := lowestPort, ephemeralLow()
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	used := map[int]bool{}
	for attempt := 0; len(ports) < n; attempt++ {
		port := 0 // let the kernel choose when the range below the ephemeral ones is too small
		if hi-lo >= 1000 {
			if attempt > 100*n {
				return nil, fmt.Errorf("allocate %d free ports in [%d,%d): too many in use", n, lo, hi)
			}
			port = lo + rand.IntN(hi-lo)
			if used[port] {
				continue
			}
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			if port == 0 {
				return nil, fmt.Errorf("allocate free port: %w", err)
			}
			continue
		}
		listeners = append(listeners, l)
		port = l.Addr().(*net.TCPAddr).Port
		used[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768 if unknown).
func ephemeralLow() int {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				return v
			}
		}
	}
	return 32768
}
