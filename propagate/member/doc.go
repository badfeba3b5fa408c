// Package member owns what fleetgate writes into member clusters: building the member copy of a
// template (server-set fields stripped, kind-specific fields the member must allocate itself removed,
// the fleetgate.io/managed label and template annotations added), applying it with server-side apply
// (field manager "fleetgate", optionally as a dry run) under the conflict rules (an unmanaged object of
// the same name is left alone unless conflictResolution is Overwrite), deleting copies, and caching one
// client per member.
//
// It does not decide where or whether to write (propagate/placement and the reconciler do) and it
// reaches members only through bootstrap/access.
package member
