package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/fleetgate/fleetgate/propagate/plan"
)

// Operation is the kind of write.
type Operation string

// Operations the pipeline handles.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Patch  Operation = "PATCH" // includes server-side apply
)

// Attributes is one write as it travels the pipeline. Each stage reads what earlier ones filled in.
type Attributes struct {
	Operation Operation
	Info      *request.RequestInfo
	GVR       schema.GroupVersionResource
	// Request is the client's request (its context holds the authenticated user); Body its body.
	Request *http.Request
	Body    []byte
	// DryRun is true when the client itself asked for a dry run: nothing is dispatched.
	DryRun bool

	// Resolved is the object exactly as the host would store it (set by resolve).
	Resolved *unstructured.Unstructured
	// PlanInput and Plan are the propagation decision for Resolved (match, schedule, override).
	PlanInput plan.Input
	Plan      *plan.Plan
	// Checked lists the clusters where member dry-run found no unmanaged object in the way (handed
	// to the reconciler with the committed template).
	Checked map[string]bool
	// Response is the host's answer to the real write (set by the commit), returned to the client.
	Response *HostResponse
	// Committed is the object the host stored, decoded from Response when it is JSON.
	Committed *unstructured.Unstructured
}

// Interface is what every admission plugin says about itself: which operations it handles.
type Interface interface {
	Handles(op Operation) bool
}

// MutationInterface plugins may change the attributes (and, through them, the request).
type MutationInterface interface {
	Interface
	Admit(ctx context.Context, a *Attributes) error
}

// ValidationInterface plugins only accept or reject.
type ValidationInterface interface {
	Interface
	Validate(ctx context.Context, a *Attributes) error
}

// Admission runs the admission plugins as k8s.io/apiserver/pkg/admission orders them: every
// mutating plugin in order, then every validating plugin in order, stopping at the first error.
// Nothing it runs writes anything; the commit comes after it.
type Admission struct {
	Mutating   []MutationInterface
	Validating []ValidationInterface
	// observe, when set, is told how long each plugin took, by stageName.
	observe func(stage string, d time.Duration)
}

// Admit runs the plugins that handle the operation.
func (c Admission) Admit(ctx context.Context, a *Attributes) error {
	for _, p := range c.Mutating {
		if p.Handles(a.Operation) {
			start := time.Now()
			err := p.Admit(ctx, a)
			c.observed(p, start)
			if err != nil {
				return err
			}
		}
	}
	for _, p := range c.Validating {
		if p.Handles(a.Operation) {
			start := time.Now()
			err := p.Validate(ctx, a)
			c.observed(p, start)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func (c Admission) observed(p Interface, start time.Time) {
	if c.observe != nil {
		c.observe(stageName(p), time.Since(start))
	}
}

// stageName is a plugin's type name without its package ("resolve", "memberDryRun").
func stageName(p Interface) string {
	name := fmt.Sprintf("%T", p)
	return name[strings.LastIndexByte(name, '.')+1:]
}

// handlesWrites is embedded by plugins that handle create, update and patch alike.
type handlesWrites struct{}

func (handlesWrites) Handles(op Operation) bool { return op == Create || op == Update || op == Patch }
