package memberview

// The tests in this file reproduced five bugs a review of the package found (each failed before its
// fix): no initial-events-end without a Ready member, none after a member stream broke during its
// initial events, an event left in the buffer behind a dropped bookmark, member streams reopened in a
// tight loop, and an update sent without its resourceVersion precondition.

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
)

// With no Ready member, a watch that asks for its initial events must still say they have ended
// (there are none), as the merged list of no members is an empty list: client-go's watch-list
// waits for that bookmark before it reports the informer synced.
func TestWatchInitialEventsEndWithoutReadyMembers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		clusters func() []*clusterv1alpha1.Cluster
		names    []string
	}{
		{"no member", ready(), nil},
		{"one member, not Ready", withNotReady(ready(), "b"), []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWatchSetup(t, tc.clusters, tc.names...)
			for _, m := range ws.members {
				m.answer = func(int, url.Values) http.Handler {
					return statusMember(503, metav1.StatusReasonServiceUnavailable, "the server is currently unable to handle the request")
				}
			}
			c := ws.watch(t, "watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=&timeoutSeconds=1", "")
			var got []string
			for e := range c.events { // until the timeout ends the watch
				o := decodeObject(t, e)
				got = append(got, e.Type)
				if e.Type == "BOOKMARK" && o.Metadata.Annotations[metav1.InitialEventsAnnotationKey] == "true" {
					return
				}
			}
			t.Errorf("the watch ended after events %v, none the initial-events-end bookmark", got)
		})
	}
}

// A member whose stream breaks before it has sent its initial-events-end bookmark must not hold
// back the merged one for ever: kube-apiserver sends that bookmark only to a watch that asks for
// initial events, so the member has to be asked for them again (or the merged watch has to end).
func TestWatchInitialEventsEndAfterMemberStreamBreaks(t *testing.T) {
	ws := newWatchSetup(t, nil, "a", "b")
	c := ws.watch(t, "watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=", "")
	sa, sb := ws.members["a"].next(t), ws.members["b"].next(t)
	sa.send(podEvent("ADDED", "web-1", "10"))
	c.expectEvent(t, "ADDED", "a", "web-1", "map[a:10]")
	// b's initial events end (its ADDED may wait in the gateway's buffer until the next write:
	// see TestWatchFlushesBeforeDroppedBookmark).
	// b's change after its bookmark reaches the client only after the gateway took the bookmark:
	// from then on b's end is known, whatever the timing of a's stream below.
	sb.send(podEvent("ADDED", "api-1", "20"), bookmarkEvent("21", true), podEvent("MODIFIED", "api-1", "22"))
	c.expectEvent(t, "ADDED", "b", "api-1", "map[a:10 b:20]")
	c.expectEvent(t, "MODIFIED", "b", "api-1", "map[a:10 b:22]")
	close(sa.hangUp) // before a's initial events have ended
	again := ws.members["a"].next(t)
	// As kube-apiserver: initial events and their end only when asked for them.
	if again.query.Get("sendInitialEvents") == "true" {
		again.send(podEvent("ADDED", "web-1", "10"), bookmarkEvent("12", true))
	}
	again.send(podEvent("MODIFIED", "web-1", "13")) // a's first change after its initial events
	for {
		e, ok := <-c.events
		if !ok {
			return // the merged watch ended: the client watches again
		}
		o := decodeObject(t, e)
		if e.Type == "BOOKMARK" && o.Metadata.Annotations[metav1.InitialEventsAnnotationKey] == "true" {
			return
		}
		if e.Type == "MODIFIED" {
			t.Fatalf("a's change after its initial events came with no initial-events-end bookmark before it (a watched again with %s)", again.query.Encode())
		}
	}
}

// Events written to the client's buffer are flushed even when the event after them is a member
// bookmark the merged watch does not pass on (one ending a member's initial events while another
// member's have not ended): the gateway buffers an event when another is queued behind it, and
// that one may be dropped.
func TestWatchFlushesBeforeDroppedBookmark(t *testing.T) {
	for round := range 20 {
		ws := newWatchSetup(t, nil, "a", "b")
		c := ws.watch(t, "watch=true&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=", "")
		ws.members["a"].next(t) // a's initial events go on
		sb := ws.members["b"].next(t)
		sb.send(podEvent("ADDED", "api-1", "20"), bookmarkEvent("21", true))
		select {
		case e := <-c.events:
			if o := decodeObject(t, e); e.Type != "ADDED" || o.Metadata.Name != "api-1" {
				t.Fatalf("round %d: event %s %s", round, e.Type, e.Object)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("round %d: b's ADDED, followed by its initial-events-end bookmark, did not reach the client", round)
		}
	}
}

// A member stream that breaks at once, again and again, is watched again with a growing wait, as a
// member that fails to open is, not in a tight loop.
func TestWatchReopenBacksOff(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream func(s *watchStream)
	}{
		{"ERROR 500 at once", func(s *watchStream) {
			s.send(errorEvent(500, metav1.StatusReasonInternalError, "etcdserver: leader changed"))
		}},
		{"ended at once", func(s *watchStream) { close(s.hangUp) }},
		{"failing to open", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWatchSetup(t, nil, "a", "b")
			m := ws.members["b"]
			if tc.stream == nil {
				m.answer = func(n int, _ url.Values) http.Handler {
					if n == 1 {
						return nil
					}
					return statusMember(500, metav1.StatusReasonInternalError, "boom")
				}
			}
			done := make(chan struct{})
			t.Cleanup(func() { close(done) })
			go func() {
				first := true
				for {
					var s *watchStream
					select {
					case s = <-m.opens:
					case <-done:
						return
					}
					switch {
					case tc.stream != nil:
						tc.stream(s)
					case first:
						close(s.hangUp) // then every open fails
					}
					first = false
				}
			}()
			c := ws.watch(t, "watch=true&timeoutSeconds=1", "")
			c.ended(t) // a second later
			n := m.n.Load()
			t.Logf("b was watched %d times in a second", n)
			if n > 10 {
				t.Errorf("b was watched %d times in a second", n)
			}
		})
	}
}

// An update with a composite resourceVersion that does not name the object's member must not
// reach the member without its precondition (an empty resourceVersion is an unconditional update).
func TestDecoratorUndoCompositeWithoutCluster(t *testing.T) {
	in := `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-1","namespace":"shop","resourceVersion":"` + versions{"member2": "999"}.encode() + `"}}`
	out, err := (decorator{}).undo("member1", []byte(in))
	if !errors.Is(err, errNoPosition) {
		t.Errorf("undo = %s, %v; want errNoPosition (the client reads the object again)", out, err)
	}
}
