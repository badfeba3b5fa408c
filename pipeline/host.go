package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Host sends a request to the host control plane as the user in the request's context. The request's
// URL holds only the path and query; the implementation supplies the rest.
type Host interface {
	Do(req *http.Request) (*http.Response, error)
}

// HostResponse is a buffered answer of the host.
type HostResponse struct {
	Code   int
	Header http.Header
	Body   []byte
}

// HostError carries a host answer that is not a success; it goes back to the client as it is.
type HostError struct{ Response *HostResponse }

func (e *HostError) Error() string {
	return fmt.Sprintf("host answered %d: %s", e.Response.Code, bytes.TrimSpace(e.Response.Body))
}

// maxResponseBytes bounds what the pipeline buffers from the host.
const maxResponseBytes = 64 << 20

// send replays the client's request to the host with body and extra query parameters, asking for
// accept ("" keeps the client's Accept).
func send(h Host, a *Attributes, body []byte, query url.Values, accept string) (*HostResponse, error) {
	req := a.Request.Clone(a.Request.Context())
	req.RequestURI = ""
	u := *a.Request.URL
	q := u.Query()
	for k, vs := range query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	req.URL = &u
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := h.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("read host response: %w", err)
	}
	return &HostResponse{Code: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func dryRunQuery() url.Values { return url.Values{"dryRun": []string{metav1.DryRunAll}} }
