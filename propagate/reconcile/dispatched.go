package reconcile

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Applied records that the copy obj of template k was written to cluster by someone else (the
// admission pipeline's dispatch), so that a sync wanting the very same copy does not write it again.
// A copy that differs in any way (another hash) is still written.
func (c *Controller) Applied(k Key, cluster string, obj *unstructured.Unstructured, overwrite bool) {
	c.tracker.finish(k, cluster, nil, &outcome{action: actApply, hash: hashObject(obj), overwrite: overwrite})
}
