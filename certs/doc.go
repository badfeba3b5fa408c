// Package certs owns fleetgate's PKI: the gateway CA (created once and kept in the host as a Secret),
// the certificates it issues (gateway serving certificate, admin and agent client certificates, signed
// CSRs), the discovery pin hash of the CA, and kubeconfig files that carry those credentials.
//
// It does not decide who may get a certificate (bootstrap/ does) and it never logs key material.
package certs
