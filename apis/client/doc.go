// Package client owns typed access to fleetgate's API kinds (Cluster, policies, bindings) on top of
// client-go's dynamic client: a generic Resource[T] converts between unstructured objects and the Go
// types of apis/. It does not cache, watch or retry; controllers use informers for that.
package client
