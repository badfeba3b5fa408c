package memberview

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// list serves a LIST: the whole merged list, streamed member after member, or, with limit, one page
// of it.
func (q *viewRequest) list() {
	query := q.r.URL.Query()
	if c := query.Get("continue"); c != "" {
		cur, err := decodeCursor(c)
		if err != nil {
			q.fail(apierrors.NewBadRequest(err.Error()))
			return
		}
		q.nextPage(cur)
		return
	}
	start, err := startVersions(query.Get("resourceVersion"), q.gr)
	if err != nil {
		q.fail(err)
		return
	}
	accept, ok := q.accept()
	if !ok {
		return
	}
	limit, _ := strconv.ParseInt(query.Get("limit"), 10, 64)
	answers := q.fanOut(q.r.Context(), accept, func(cluster string) url.Values { return memberQuery(query, cluster, start) })
	defer closeAll(answers)
	good, firstBad := q.sortAnswers(answers)
	if len(good) == 0 && firstBad != nil {
		q.copyAnswer(*firstBad)
		return
	}
	if limit > 0 {
		q.firstPage(good, limit)
		return
	}
	q.streamAll(good)
}

// sortAnswers splits answers into the good ones and, for the failed ones, warnings; it returns the
// first failed answer too (unread), for when no member answered well.
func (q *viewRequest) sortAnswers(answers []memberAnswer) (good []memberAnswer, firstBad *memberAnswer) {
	for i, a := range answers {
		if !a.failed() {
			good = append(good, a)
			continue
		}
		if firstBad == nil {
			firstBad = &answers[i]
			continue
		}
		q.warnings = append(q.warnings, fmt.Sprintf("cluster %s: %s", a.cluster, a.describe()))
	}
	if firstBad != nil && len(good) > 0 {
		q.warnings = append(q.warnings, fmt.Sprintf("cluster %s: %s", firstBad.cluster, firstBad.describe()))
	}
	return good, firstBad
}

// startVersions reads a client's resourceVersion: a composite one (per member), or "" / "0" (the
// same for every member). Any other value is no position of a merged view: 410, so that the client
// lists again.
func startVersions(rv string, gr fmt.Stringer) (versions, error) {
	if rv == "" || rv == "0" {
		return nil, nil
	}
	v, composite, err := decodeVersions(rv)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if !composite {
		return nil, apierrors.NewResourceExpired(fmt.Sprintf("resourceVersion %s is not a position of the merged view of %s; list again", rv, gr))
	}
	return v, nil
}

// memberQuery is the client's query for one member: its part of a composite resourceVersion (a
// member the position does not know starts from its current state).
func memberQuery(client url.Values, cluster string, start versions) url.Values {
	q := url.Values{}
	for k, v := range client {
		q[k] = v
	}
	q.Del("continue")
	if start != nil {
		if rv, ok := start[cluster]; ok {
			q.Set("resourceVersion", rv)
		} else {
			q.Del("resourceVersion")
			q.Del("resourceVersionMatch")
		}
	}
	return q
}

// listReader reads a member's list (or Table) as a stream: the fields before its items, then one item
// at a time.
type listReader struct {
	cluster    string
	body       io.Reader
	dec        *json.Decoder // the fields before the items
	items      *itemReader   // the items, once open has found them
	table      bool          // a Table (rows), known once open has returned
	kind       string
	apiVersion string
	meta       metav1.ListMeta
	columns    json.RawMessage
}

func newListReader(a memberAnswer) *listReader {
	return &listReader{cluster: a.cluster, body: a.resp.Body, dec: json.NewDecoder(a.resp.Body)}
}

// open reads up to the first item; false when the list has no items at all.
func (lr *listReader) open() (bool, error) {
	if err := lr.delim('{'); err != nil {
		return false, err
	}
	for lr.dec.More() {
		key, err := lr.key()
		if err != nil {
			return false, err
		}
		switch key {
		case "items", "rows":
			lr.table = key == "rows"
			if t, err := lr.dec.Token(); err != nil {
				return false, lr.wrap(err)
			} else if t == nil {
				continue // "items": null
			} else if d, ok := t.(json.Delim); !ok || d != '[' {
				return false, lr.wrap(fmt.Errorf("%s is not a list", key))
			}
			lr.items = &itemReader{r: bufio.NewReaderSize(io.MultiReader(lr.dec.Buffered(), lr.body), 64<<10)}
			return true, nil
		case "kind":
			err = lr.dec.Decode(&lr.kind)
		case "apiVersion":
			err = lr.dec.Decode(&lr.apiVersion)
		case "metadata":
			err = lr.dec.Decode(&lr.meta)
		case "columnDefinitions":
			err = lr.dec.Decode(&lr.columns)
		default:
			var skip json.RawMessage
			err = lr.dec.Decode(&skip)
		}
		if err != nil {
			return false, lr.wrap(err)
		}
	}
	return false, nil
}

// next returns the next item (valid until the next call), nil after the last.
func (lr *listReader) next() ([]byte, error) {
	raw, err := lr.items.next()
	if err != nil {
		return nil, lr.wrap(err)
	}
	return raw, nil
}

// finish reads the fields after the items (a list's metadata may come last).
func (lr *listReader) finish() error {
	if lr.items != nil {
		rest, err := lr.items.rest()
		if err != nil {
			return lr.wrap(err)
		}
		var tail struct {
			Metadata *metav1.ListMeta `json:"metadata"`
		}
		if err := json.Unmarshal(rest, &tail); err != nil {
			return lr.wrap(err)
		}
		if tail.Metadata != nil {
			lr.meta = *tail.Metadata
		}
		return nil
	}
	for lr.dec.More() {
		key, err := lr.key()
		if err != nil {
			return err
		}
		switch key {
		case "metadata":
			err = lr.dec.Decode(&lr.meta)
		default:
			var skip json.RawMessage
			err = lr.dec.Decode(&skip)
		}
		if err != nil {
			return lr.wrap(err)
		}
	}
	return nil
}

func (lr *listReader) key() (string, error) {
	t, err := lr.dec.Token()
	if err != nil {
		return "", lr.wrap(err)
	}
	k, ok := t.(string)
	if !ok {
		return "", lr.wrap(fmt.Errorf("unexpected %v", t))
	}
	return k, nil
}

func (lr *listReader) delim(want json.Delim) error {
	t, err := lr.dec.Token()
	if err != nil {
		return lr.wrap(err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return lr.wrap(fmt.Errorf("want %q, found %v", want, t))
	}
	return nil
}

func (lr *listReader) wrap(err error) error {
	return fmt.Errorf("list from cluster %s: %w", lr.cluster, err)
}

// listWriter writes a merged list or Table.
type listWriter struct {
	w       *bufio.Writer
	table   bool
	started bool
	n       int
}

// begin writes what comes before the items, taken from the first member's list.
func (lw *listWriter) begin(lr *listReader) error {
	if lw.started {
		return nil
	}
	lw.started, lw.table = true, lr.table
	head := map[string]any{"kind": lr.kind, "apiVersion": lr.apiVersion}
	b, _ := json.Marshal(head)
	lw.w.Write(b[:len(b)-1]) // without its }
	if lr.table {
		cols := lr.columns
		if len(cols) == 0 {
			cols = json.RawMessage("[]")
		}
		c, err := withClusterColumn(cols)
		if err != nil {
			return lr.wrap(err)
		}
		lw.w.WriteString(`,"columnDefinitions":`)
		lw.w.Write(c)
		lw.w.WriteString(`,"rows":[`)
	} else {
		lw.w.WriteString(`,"items":[`)
	}
	return nil
}

func (lw *listWriter) item(b []byte) {
	if lw.n > 0 {
		lw.w.WriteByte(',')
	}
	lw.n++
	lw.w.Write(b)
}

// end writes the list's metadata; kind, when not empty, is the list's kind for a list no member
// answered.
func (lw *listWriter) end(meta metav1.ListMeta, kind schema.GroupVersionKind) error {
	if !lw.started {
		// No member answered with a list: an empty one, which kubectl shows as "No resources found".
		head := map[string]string{"kind": "List", "apiVersion": "v1"}
		if kind.Kind != "" {
			head = map[string]string{"kind": kind.Kind + "List", "apiVersion": kind.GroupVersion().String()}
		}
		b, _ := json.Marshal(head)
		lw.w.Write(b[:len(b)-1])
		lw.w.WriteString(`,"items":[`)
	}
	m, _ := json.Marshal(meta)
	lw.w.WriteString(`],"metadata":`)
	lw.w.Write(m)
	lw.w.WriteString("}\n")
	return lw.w.Flush()
}

// streamAll writes every good member's list, in member order, as one list whose resourceVersion
// is the composite of theirs. Each member's list is read and rewritten by a goroutine of its own
// while earlier members are written, a bounded number of chunks ahead (memberChunks of about
// chunkBytes each), so the members' lists are never all held at once and their reading overlaps.
func (q *viewRequest) streamAll(good []memberAnswer) {
	contentType := "application/json"
	if len(good) > 0 {
		contentType = good[0].resp.Header.Get("Content-Type")
	}
	ctx, cancel := context.WithCancel(q.r.Context())
	defer cancel()
	streams := make([]*memberStream, len(good))
	for i, a := range good {
		streams[i] = q.startStream(ctx, newListReader(a))
	}
	q.addWarnings()
	q.w.Header().Set("Content-Type", contentType)
	q.w.WriteHeader(http.StatusOK)
	lw := &listWriter{w: bufio.NewWriterSize(q.w, 32<<10)}
	pos := versions{}
	for _, st := range streams {
		if err := lw.drain(st); err != nil {
			// The status line has gone out; only cutting the response tells the client.
			klogFrom(q.r).Error(err, "Merged list cut off")
			panic(http.ErrAbortHandler)
		}
		pos[st.reader.cluster] = st.reader.meta.ResourceVersion
	}
	meta := metav1.ListMeta{}
	if len(pos) > 0 {
		meta.ResourceVersion = pos.encode()
	}
	_ = lw.end(meta, q.listKind())
}

const (
	chunkBytes   = 64 << 10
	memberChunks = 16
)

// memberStream is one member's list being read and rewritten: opened (the fields before its items
// known), then its rewritten items in chunks (items joined by commas), then err once chunks is
// closed.
type memberStream struct {
	reader  *listReader
	opened  chan struct{} // closed once open has returned (has and openErr set)
	has     bool
	openErr error
	chunks  chan []byte
	err     error // read once chunks is closed
}

func (q *viewRequest) startStream(ctx context.Context, lr *listReader) *memberStream {
	st := &memberStream{reader: lr, opened: make(chan struct{}), chunks: make(chan []byte, memberChunks)}
	go func() {
		defer close(st.chunks)
		st.has, st.openErr = lr.open()
		close(st.opened)
		if st.openErr != nil {
			return
		}
		var chunk []byte
		send := func() bool {
			select {
			case st.chunks <- chunk:
				chunk = nil
				return true
			case <-ctx.Done():
				st.err = ctx.Err()
				return false
			}
		}
		for st.has {
			raw, err := lr.next()
			if err != nil {
				st.err = err
				return
			}
			if raw == nil {
				break
			}
			out, err := q.elem(lr.table, lr.cluster, raw)
			if err != nil {
				st.err = err
				return
			}
			if len(chunk) > 0 {
				chunk = append(chunk, ',')
			}
			chunk = append(chunk, out...)
			if len(chunk) >= chunkBytes && !send() {
				return
			}
		}
		if len(chunk) > 0 && !send() {
			return
		}
		st.err = lr.finish()
	}()
	return st
}

// drain writes one member's stream.
func (lw *listWriter) drain(st *memberStream) error {
	<-st.opened
	if st.openErr != nil {
		return st.openErr
	}
	lr := st.reader
	if !lw.started && (lr.kind != "" || st.has) {
		if err := lw.begin(lr); err != nil {
			return err
		}
	}
	for chunk := range st.chunks {
		lw.item(chunk)
	}
	return st.err
}

func (q *viewRequest) writeElem(lw *listWriter, cluster string, raw []byte) error {
	out, err := q.elem(lw.table, cluster, raw)
	if err != nil {
		return err
	}
	lw.item(out)
	return nil
}

// listKind is the kind of the request's resource (for an empty list), zero when unknown.
func (q *viewRequest) listKind() schema.GroupVersionKind {
	gvk, _ := q.kind()
	return gvk
}

// elem rewrites one list item or Table row.
func (q *viewRequest) elem(table bool, cluster string, raw []byte) ([]byte, error) {
	if table {
		return q.dec.row(cluster, raw, "")
	}
	return q.dec.object(cluster, raw, "")
}

// page is one member's page of a paged list, read whole (a page is at most limit items).
type page struct {
	reader      *listReader
	contentType string
	items       []json.RawMessage
}

func readPage(a memberAnswer) (*page, error) {
	p := &page{reader: newListReader(a), contentType: a.resp.Header.Get("Content-Type")}
	has, err := p.reader.open()
	if err != nil {
		return nil, err
	}
	for has {
		raw, err := p.reader.next()
		if err != nil {
			return nil, err
		}
		if raw == nil {
			break
		}
		p.items = append(p.items, bytes.Clone(raw))
	}
	return p, p.reader.finish()
}

// firstPage answers a LIST with limit: the first member's page, and the pages of the members after
// it as long as everything fits in limit. The position of every member is taken now, so that all
// pages are one snapshot: the members left for later pages are listed at exactly that position.
func (q *viewRequest) firstPage(good []memberAnswer, limit int64) {
	cur := cursor{Versions: versions{}}
	var shown []*page
	n, full := 0, false
	for _, a := range good {
		p, err := readPage(a)
		if err != nil {
			q.warnings = append(q.warnings, err.Error())
			continue
		}
		cur.Versions[a.cluster] = p.reader.meta.ResourceVersion
		switch {
		case full:
			cur.Pending = append(cur.Pending, memberToken{Cluster: a.cluster})
		case len(shown) == 0 || (p.reader.meta.Continue == "" && int64(n+len(p.items)) <= limit):
			shown = append(shown, p)
			n += len(p.items)
			if p.reader.meta.Continue != "" {
				cur.Pending = append(cur.Pending, memberToken{Cluster: a.cluster, Continue: p.reader.meta.Continue})
				full = true
			}
		default:
			cur.Pending = append(cur.Pending, memberToken{Cluster: a.cluster})
			full = true
		}
	}
	q.writePages(shown, cur)
}

// nextPage answers a LIST with a continue token: the next page of the first member not done.
func (q *viewRequest) nextPage(cur cursor) {
	query := q.r.URL.Query()
	limit := query.Get("limit")
	accept, ok := q.accept()
	if !ok {
		return
	}
	ready := map[string]bool{}
	for _, t := range q.targets {
		ready[t] = true
	}
	for len(cur.Pending) > 0 {
		m := cur.Pending[0]
		if !ready[m.Cluster] {
			q.warnings = append(q.warnings, fmt.Sprintf("cluster %s is not ready: the rest of its %s are not shown", m.Cluster, q.gr.Resource))
			cur.Pending = cur.Pending[1:]
			continue
		}
		mq := url.Values{}
		for k, v := range query {
			mq[k] = v
		}
		mq.Del("continue")
		mq.Del("resourceVersion")
		mq.Del("resourceVersionMatch")
		if limit != "" {
			mq.Set("limit", limit)
		}
		if m.Continue != "" {
			mq.Set("continue", m.Continue)
		} else {
			mq.Set("resourceVersion", cur.Versions[m.Cluster])
			mq.Set("resourceVersionMatch", string(metav1.ResourceVersionMatchExact))
		}
		resp, err := q.send(q.r.Context(), m.Cluster, http.MethodGet, accept, mq, nil)
		a := memberAnswer{cluster: m.Cluster, resp: resp, err: err}
		if a.failed() {
			if resp != nil && resp.StatusCode == http.StatusGone {
				q.copyAnswer(a) // the snapshot is gone: the client lists again
				return
			}
			q.warnings = append(q.warnings, fmt.Sprintf("cluster %s: %s", m.Cluster, a.describe()))
			if resp != nil {
				resp.Body.Close()
			}
			cur.Pending = cur.Pending[1:]
			continue
		}
		p, err := readPage(a)
		resp.Body.Close()
		if err != nil {
			q.warnings = append(q.warnings, err.Error())
			cur.Pending = cur.Pending[1:]
			continue
		}
		if p.reader.meta.Continue != "" {
			cur.Pending[0].Continue = p.reader.meta.Continue
		} else {
			cur.Pending = cur.Pending[1:]
		}
		q.writePages([]*page{p}, cur)
		return
	}
	q.writePages(nil, cur)
}

// writePages writes pages as one list, with cur's position and, when members are left, its
// continue token.
func (q *viewRequest) writePages(pages []*page, cur cursor) {
	contentType := "application/json"
	if len(pages) > 0 {
		contentType = pages[0].contentType
	}
	q.addWarnings()
	q.w.Header().Set("Content-Type", contentType)
	q.w.WriteHeader(http.StatusOK)
	lw := &listWriter{w: bufio.NewWriterSize(q.w, 32<<10)}
	for _, p := range pages {
		if err := lw.begin(p.reader); err != nil {
			klogFrom(q.r).Error(err, "Merged page cut off")
			panic(http.ErrAbortHandler)
		}
		for _, raw := range p.items {
			if err := q.writeElem(lw, p.reader.cluster, raw); err != nil {
				klogFrom(q.r).Error(err, "Merged page cut off")
				panic(http.ErrAbortHandler)
			}
		}
	}
	meta := metav1.ListMeta{}
	if len(cur.Versions) > 0 {
		meta.ResourceVersion = cur.Versions.encode()
	}
	if len(cur.Pending) > 0 {
		meta.Continue = cur.encode()
	}
	_ = lw.end(meta, q.listKind())
}
