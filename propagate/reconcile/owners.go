package reconcile

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// TemplateUID returns the UID of the template whose managed copy in cluster is the object of kind
// gk, namespace and name with UID uid, read from the member's copy watch; false when the copy
// watch does not know such a copy. The gateway's merged views use it to point member owner
// references (a ReplicaSet's Deployment) at the template clients see.
func (c *Controller) TemplateUID(cluster string, gk schema.GroupKind, namespace, name string, uid types.UID) (types.UID, bool) {
	d := c.dispatcher(cluster)
	if d == nil {
		return "", false
	}
	live := d.watchedCopy(gk, namespace, name)
	if live == nil || live.UID != uid || !live.managed {
		return "", false
	}
	return types.UID(live.templateUID), live.templateUID != ""
}

// CopyUID is TemplateUID's inverse: the UID of the managed copy in cluster of the template with
// UID template.
func (c *Controller) CopyUID(cluster string, gk schema.GroupKind, namespace, name string, template types.UID) (types.UID, bool) {
	d := c.dispatcher(cluster)
	if d == nil {
		return "", false
	}
	live := d.watchedCopy(gk, namespace, name)
	if live == nil || !live.managed || live.templateUID != string(template) {
		return "", false
	}
	return live.UID, true
}
