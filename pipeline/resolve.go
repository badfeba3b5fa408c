package pipeline

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// resolve sends the write to the host as a dry run. The answer is the object exactly as it would be
// stored: defaults applied, patches merged, host validation and admission passed. A host error goes
// back to the client unchanged.
type resolve struct {
	handlesWrites
	host Host
}

var _ MutationInterface = resolve{}

func (r resolve) Admit(_ context.Context, a *Attributes) error {
	resp, err := send(r.host, a, a.Body, dryRunQuery(), "application/json")
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("host control plane unreachable: %v", err))
	}
	if resp.Code < 200 || resp.Code > 299 {
		return &HostError{Response: resp}
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(resp.Body); err != nil {
		return apierrors.NewInternalError(fmt.Errorf("decode the host's dry-run answer: %w", err))
	}
	a.Resolved = obj
	return nil
}
