// Package proxy owns fleetgate's front door: TLS, authentication (gateway-CA client certificates and
// bearer tokens checked by TokenReview against the host), client impersonation checked by
// SubjectAccessReview on the host, request parsing, routing, and the reverse proxy that forwards to the
// host as the caller, the cluster proxy (/clusters/{name}/…) and, through its memberview package,
// the merged member views.
//
// The handler is a chain of WithX filters assembled in one place (NewHandler). State travels between
// filters only through typed context helpers (k8s.io/apiserver/pkg/endpoints/request).
//
// It does not decide what is propagated (pipeline/ and propagate/ do) and it holds no durable state.
package proxy
