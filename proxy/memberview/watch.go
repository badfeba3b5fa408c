package memberview

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// initialEventsEnd is the annotation of the bookmark that ends a watch's initial events.
const initialEventsEnd = metav1.InitialEventsAnnotationKey

// memberEvent is one event of a member's watch, or (expired) the member saying that the position
// is gone, after which the merged watch ends with that error.
type memberEvent struct {
	cluster string
	typ     string
	object  json.RawMessage
	rv      string
	table   bool
	end     bool // a bookmark ending the member's initial events
	expired *metav1.Status
}

// watch serves a WATCH: the members' streams merged into one whose events carry the composite
// resourceVersion of everything sent so far, so that a client that watches again from any event
// (or bookmark) misses nothing and sees nothing twice. A member whose stream breaks is watched
// again from where it was; one that says its position is too old ends the merged watch with that
// 410, and the client lists again. Members not Ready when the watch starts are tried in the
// background, so a client whose list missed a member that was down sees its objects once it is
// back.
func (q *viewRequest) watch() {
	query := q.r.URL.Query()
	start, err := startVersions(query.Get("resourceVersion"), q.gr)
	if err != nil {
		q.fail(err)
		return
	}
	accept, ok := q.accept()
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(q.r.Context())
	defer cancel()
	if s, err := strconv.Atoi(query.Get("timeoutSeconds")); err == nil && s > 0 {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(s)*time.Second)
		defer cancel()
	}
	answers := q.fanOut(ctx, accept, func(cluster string) url.Values {
		mq := memberQuery(query, cluster, start)
		mq.Del("timeoutSeconds") // the merged watch keeps the time; members are watched again
		return mq
	})
	var good []memberAnswer
	var retry []string
	var firstBad *memberAnswer
	for i, a := range answers {
		switch {
		case !a.failed():
			good = append(good, a)
		case a.resp != nil && a.resp.StatusCode == http.StatusGone:
			for j, other := range answers {
				if j != i && other.resp != nil {
					other.resp.Body.Close()
				}
			}
			q.copyAnswer(a) // the position is gone: the client lists again
			return
		default:
			if firstBad == nil {
				firstBad = &answers[i]
			} else {
				q.warnings = append(q.warnings, "cluster "+a.cluster+": "+a.describe()+"; watched again in the background")
				a.resp.Body.Close()
			}
			retry = append(retry, a.cluster)
		}
	}
	if len(good) == 0 && firstBad != nil {
		q.copyAnswer(*firstBad)
		return
	}
	if firstBad != nil {
		q.warnings = append(q.warnings, "cluster "+firstBad.cluster+": "+firstBad.describe()+"; watched again in the background")
		if firstBad.resp != nil {
			firstBad.resp.Body.Close()
		}
	}
	contentType := "application/json"
	if len(good) > 0 {
		contentType = good[0].resp.Header.Get("Content-Type")
	}
	q.addWarnings()
	q.w.Header().Set("Content-Type", contentType)
	q.w.WriteHeader(http.StatusOK)
	flusher := http.NewResponseController(q.w)
	_ = flusher.Flush()

	events := make(chan memberEvent, 64)
	pos := start.clone()
	if pos == nil {
		pos = versions{}
	}
	initial := map[string]bool{} // members whose initial events have not ended
	sendInitial := query.Get("sendInitialEvents") == "true"
	bookmarks := query.Get("allowWatchBookmarks") == "true"
	for _, a := range good {
		if sendInitial {
			initial[a.cluster] = true
		}
		go q.follow(ctx, a.cluster, a.resp, start[a.cluster], query, accept, events)
	}
	// Members that failed to open, and those not Ready now, are tried again in the background: once
	// they answer, their objects come (as ADDED events when the position does not know them).
	for _, c := range append(retry, q.notReady...) {
		go q.follow(ctx, c, nil, start[c], query, accept, events)
	}
	out := bufio.NewWriterSize(q.w, 32<<10)
	write := func(typ string, obj []byte) {
		// Written as it is: obj is already JSON (re-encoding it would scan every object again),
		// and typ is one of the watch event types, which need no escaping.
		out.WriteString(`{"type":"`)
		out.WriteString(typ)
		out.WriteString(`","object":`)
		out.Write(obj)
		out.WriteString("}\n")
	}
	// flush sends what is written unless more is waiting to go with it; false when the client is
	// gone.
	flush := func() bool {
		if len(events) > 0 && out.Buffered() < 16<<10 {
			return true
		}
		return out.Flush() == nil && flusher.Flush() == nil
	}
	initialDone := !sendInitial
	if !initialDone && len(initial) == 0 {
		// No member to wait for: the initial events (none) have ended.
		initialDone = true
		write("BOOKMARK", q.emptyBookmark(pos.encode()))
		if !flush() {
			return
		}
	}
	for {
		var ev memberEvent
		select {
		case <-ctx.Done():
			return
		case ev = <-events:
		}
		if ev.expired != nil {
			b, _ := json.Marshal(ev.expired)
			write("ERROR", b)
			_ = out.Flush()
			return
		}
		if ev.rv != "" {
			pos[ev.cluster] = ev.rv
		}
		rv := pos.encode()
		switch {
		case ev.typ == "BOOKMARK":
			if ev.end {
				delete(initial, ev.cluster)
			}
			switch {
			case !initialDone && len(initial) == 0:
				initialDone = true
				write("BOOKMARK", bookmark(ev.object, rv, true))
			case bookmarks && initialDone:
				write("BOOKMARK", bookmark(ev.object, rv, false))
			}
		default:
			var obj []byte
			var err error
			if ev.table {
				obj, err = q.dec.table(ev.cluster, ev.object, rv)
			} else {
				obj, err = q.dec.object(ev.cluster, ev.object, rv)
			}
			if err != nil {
				klogFrom(q.r).Error(err, "Dropping a member watch event", "cluster", ev.cluster)
				break
			}
			write(ev.typ, obj)
		}
		if !flush() {
			return
		}
	}
}

// emptyBookmark is the bookmark that ends the initial events when no member sends any: an object of
// the watched kind with only the position and the initial-events-end annotation.
func (q *viewRequest) emptyBookmark(rv string) []byte {
	obj := map[string]any{}
	if gvk, ok := q.kind(); ok {
		obj["kind"], obj["apiVersion"] = gvk.Kind, gvk.GroupVersion().String()
	}
	return bookmark(mustJSON(obj), rv, true)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// bookmark is a member's bookmark object with the merged position (and the initial-events-end
// annotation only when every member's initial events have ended).
func bookmark(raw []byte, rv string, end bool) []byte {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) != nil {
		obj = map[string]any{}
	}
	md := map[string]any{"resourceVersion": rv}
	if end {
		md["annotations"] = map[string]any{initialEventsEnd: "true"}
	}
	obj["metadata"] = md
	b, _ := json.Marshal(obj)
	return b
}

// follow streams one member's watch into events until ctx ends, opening it again (from the last
// position it sent) when it breaks. resp, when not nil, is the watch already opened.
func (q *viewRequest) follow(ctx context.Context, cluster string, resp *http.Response, rv string, client url.Values, accept string, events chan<- memberEvent) {
	const firstWait, maxWait = 250 * time.Millisecond, 5 * time.Second
	wait := firstWait
	send := func(ev memberEvent) bool {
		select {
		case events <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	pause := func() bool {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return false
		}
		wait = min(2*wait, maxWait)
		return true
	}
	// Until the member has sent its initial-events-end bookmark, it is asked again for its initial
	// events (from the position the client gave): a watch from its last event would leave out the
	// objects it had not sent yet. Objects sent twice that way are ADDED twice, which a watch-list
	// client takes as the same object.
	initialPending := client.Get("sendInitialEvents") == "true"
	startRV := rv
	for ctx.Err() == nil {
		if resp == nil {
			mq := memberQuery(client, cluster, nil)
			mq.Del("timeoutSeconds")
			mq.Del("resourceVersion")
			if initialPending {
				if startRV != "" {
					mq.Set("resourceVersion", startRV)
				}
			} else {
				mq.Del("sendInitialEvents") // the client has had them
				mq.Del("resourceVersionMatch")
				if rv != "" {
					mq.Set("resourceVersion", rv)
				}
			}
			r, err := q.send(ctx, cluster, http.MethodGet, accept, mq, nil)
			a := memberAnswer{cluster: cluster, resp: r, err: err}
			if a.failed() {
				if r != nil && r.StatusCode == http.StatusGone {
					st := statusOf(r)
					r.Body.Close()
					send(memberEvent{cluster: cluster, expired: st})
					return
				}
				if r != nil {
					r.Body.Close()
				}
				if !pause() {
					return
				}
				continue
			}
			resp = r
		}
		dec := json.NewDecoder(resp.Body)
		got := false
		for {
			var e struct {
				Type   string          `json:"type"`
				Object json.RawMessage `json:"object"`
			}
			if err := dec.Decode(&e); err != nil {
				break
			}
			if e.Type == "ERROR" {
				var st metav1.Status
				if json.Unmarshal(e.Object, &st) == nil && st.Code == http.StatusGone {
					resp.Body.Close()
					send(memberEvent{cluster: cluster, expired: &st})
					return
				}
				break // watched again from rv
			}
			switch e.Type {
			case "ADDED", "MODIFIED", "DELETED", "BOOKMARK":
			default:
				continue // not a watch event (and never written on unescaped)
			}
			ev := probeEvent(e.Object)
			ev.cluster, ev.typ, ev.object = cluster, e.Type, e.Object
			if ev.rv != "" {
				rv = ev.rv
			}
			if ev.end {
				initialPending = false
			}
			if !send(ev) {
				resp.Body.Close()
				return
			}
			got = true
		}
		resp.Body.Close()
		resp = nil
		if got {
			wait = firstWait
		}
		// A stream that ended without an event waits before it is opened again (a member that
		// closes watches at once must not be asked in a tight loop).
		if !got && !pause() {
			return
		}
	}
}

// probeEvent reads an event object's resourceVersion, whether it is a Table, and whether it ends
// the initial events.
func probeEvent(raw []byte) memberEvent {
	var p struct {
		Kind     string `json:"kind"`
		Metadata struct {
			ResourceVersion string            `json:"resourceVersion"`
			Annotations     map[string]string `json:"annotations"`
		} `json:"metadata"`
		Rows []struct {
			Object struct {
				Metadata struct {
					ResourceVersion string `json:"resourceVersion"`
				} `json:"metadata"`
			} `json:"object"`
		} `json:"rows"`
	}
	_ = json.Unmarshal(raw, &p)
	ev := memberEvent{rv: p.Metadata.ResourceVersion, table: p.Kind == "Table", end: p.Metadata.Annotations[initialEventsEnd] == "true"}
	if ev.table && ev.rv == "" && len(p.Rows) > 0 {
		ev.rv = p.Rows[0].Object.Metadata.ResourceVersion
	}
	return ev
}

// statusOf reads a member's error answer as a Status.
func statusOf(r *http.Response) *metav1.Status {
	var st metav1.Status
	if err := json.NewDecoder(r.Body).Decode(&st); err != nil || st.Code == 0 {
		return &apierrors.NewResourceExpired("the watch position is too old; list again").ErrStatus
	}
	st.Kind, st.APIVersion = "Status", "v1"
	return &st
}
