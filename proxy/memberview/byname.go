package memberview

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// maxObjectBytes bounds one object read whole (a GET by name, an update's body).
const maxObjectBytes = 64 << 20

// metadataOnly asks a member for an object's metadata only: enough to know it exists.
const metadataOnly = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io,application/json"

// get serves a GET by name: the one member that has the object answers; several is a conflict.
func (q *viewRequest) get() {
	accept, ok := q.accept()
	if !ok {
		return
	}
	answers := q.fanOut(q.r.Context(), accept, func(string) url.Values { return q.r.URL.Query() })
	defer closeAll(answers)
	owner, ok := q.pickOwner(answers)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(owner.resp.Body, maxObjectBytes))
	if err != nil {
		q.fail(apierrors.NewServiceUnavailable(fmt.Sprintf("cluster %s: %v", owner.cluster, err)))
		return
	}
	var out []byte
	if isTableBody(body) {
		out, err = q.dec.table(owner.cluster, body, "")
	} else {
		out, err = q.dec.object(owner.cluster, body, "")
	}
	if err != nil {
		q.fail(apierrors.NewInternalError(err))
		return
	}
	q.addWarnings()
	q.w.Header().Set("Content-Type", owner.resp.Header.Get("Content-Type"))
	q.w.WriteHeader(http.StatusOK)
	_, _ = q.w.Write(out)
}

// pickOwner returns the one answer that found the object. Otherwise it answers the client itself:
// 404 when no member has it (and no member failed otherwise), the members' error when they all
// failed alike, 409 naming the clusters when several have it.
func (q *viewRequest) pickOwner(answers []memberAnswer) (memberAnswer, bool) {
	var found []memberAnswer
	var failed []memberAnswer
	notFound := 0
	for _, a := range answers {
		switch {
		case !a.failed():
			found = append(found, a)
		case a.resp != nil && a.resp.StatusCode == http.StatusNotFound:
			notFound++
		default:
			failed = append(failed, a)
		}
	}
	switch len(found) {
	case 1:
		for _, a := range failed {
			q.warnings = append(q.warnings, fmt.Sprintf("cluster %s: %s", a.cluster, a.describe()))
		}
		return found[0], true
	case 0:
		if notFound == 0 && len(failed) > 0 {
			for _, a := range failed[1:] {
				q.warnings = append(q.warnings, fmt.Sprintf("cluster %s: %s", a.cluster, a.describe()))
			}
			q.copyAnswer(failed[0])
			return memberAnswer{}, false
		}
		for _, a := range failed {
			q.warnings = append(q.warnings, fmt.Sprintf("cluster %s: %s", a.cluster, a.describe()))
		}
		q.fail(apierrors.NewNotFound(q.gr, q.info.Name))
		return memberAnswer{}, false
	}
	names := make([]string, len(found))
	for i, a := range found {
		names[i] = a.cluster
	}
	q.fail(apierrors.NewConflict(q.gr, q.info.Name, fmt.Errorf("the name is taken in clusters %s; name one with /clusters/<cluster>%s",
		strings.Join(names, ", "), q.objectPath())))
	return memberAnswer{}, false
}

// objectPath is the path of the object the request names (without its subresource).
func (q *viewRequest) objectPath() string {
	p := q.r.URL.Path
	if q.info.Subresource == "" {
		return p
	}
	seg := "/" + q.info.Resource + "/" + q.info.Name
	if i := strings.Index(p, seg+"/"+q.info.Subresource); i >= 0 {
		return p[:i+len(seg)]
	}
	return p
}

// owner finds the member that has the named object; when there is not exactly one it has
// answered the client.
func (q *viewRequest) owner() (string, bool) {
	answers := q.fanOutPath(q.objectPath())
	defer closeAll(answers)
	a, ok := q.pickOwner(answers)
	return a.cluster, ok
}

// fanOutPath GETs path's metadata from every target.
func (q *viewRequest) fanOutPath(path string) []memberAnswer {
	r := q.r.Clone(q.r.Context())
	r.URL.Path, r.URL.RawPath = path, ""
	sub := &viewRequest{View: q.View, w: q.w, r: r, info: q.info, gr: q.gr, targets: q.targets}
	return sub.fanOut(q.r.Context(), metadataOnly, func(string) url.Values { return nil })
}

// toOwner forwards the request as it is to the member that has the named object (subresources,
// upgrades included; an update's body has what the view added taken out again).
func (q *viewRequest) toOwner() {
	if q.info.Name == "" {
		q.fail(apierrors.NewMethodNotSupported(q.gr, q.info.Verb))
		return
	}
	cluster, ok := q.owner()
	if !ok {
		return
	}
	out := q.r.Clone(q.r.Context())
	if q.r.Method == http.MethodPut && (q.info.Subresource == "" || q.info.Subresource == "status") {
		body, err := io.ReadAll(io.LimitReader(q.r.Body, maxObjectBytes+1))
		if err == nil && len(body) > maxObjectBytes {
			err = errors.New("request body too large")
		}
		if err != nil {
			q.fail(apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err)))
			return
		}
		if body, err = q.dec.undo(cluster, body); err != nil {
			if errors.Is(err, errNoPosition) {
				q.fail(apierrors.NewConflict(q.gr, q.info.Name, err))
				return
			}
			q.fail(apierrors.NewBadRequest(err.Error()))
			return
		}
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.Header.Del("Content-Length")
	}
	q.addWarnings()
	q.cfg.Clusters.Proxy(cluster, q.w, out)
}

// writeByName serves an update, patch or delete by name: the host's when it holds a template of
// that name, the owning member's otherwise.
func (q *viewRequest) writeByName() {
	if q.cfg.Host != nil && q.cfg.Next != nil {
		req, err := http.NewRequestWithContext(q.r.Context(), http.MethodGet, q.objectPath(), nil)
		if err != nil {
			q.fail(apierrors.NewInternalError(err))
			return
		}
		req.Header.Set("Accept", metadataOnly)
		resp, err := q.cfg.Host.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				q.cfg.Next.ServeHTTP(q.w, q.r)
				return
			}
		}
	}
	q.toOwner()
}
