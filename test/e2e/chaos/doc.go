// Package chaos owns fleetgate's chaos test: against real binaries (two bare members, one
// PropagationPolicy placing every ConfigMap and Deployment of a namespace on both, Duplicated;
// member2 in Pull mode unless FLEETGATE_E2E_PULL says otherwise) it creates, updates, deletes and
// recreates templates through the gateway and straight in the host at the same time, while member
// apiservers are paused (SIGSTOP/SIGCONT) and killed, the gateway is killed with SIGKILL and
// restarted, the Pull member's agent is killed, and member copies are edited and deleted by hand. After each
// loop it waits, bounded, until every member holds exactly the templates placed on it with their
// latest content, every binding tells the truth, and nothing keeps writing; it fails at the first
// divergence with a readable diff.
//
// `make test` runs CHAOS_LOOPS loops (default 2); `make soak` runs SOAK_LOOPS (default 20). Loop i
// uses seed CHAOS_SEED+i-1 (CHAOS_SEED defaults to 1) and its own namespace chaos-<seed>, so a
// failing loop can be replayed alone with CHAOS_SEED=<seed> CHAOS_LOOPS=1. CHAOS_FAULTS (a
// comma-separated subset of pause, restart, kill-gateway, edit-copy, delete-copy, kill-agent) runs only those
// faults, the rest of the loop unchanged.
//
// It does not test placement, overrides or division (test/e2e/propagation does), and it imports
// nothing of fleetgate but localenv, the e2e framework and the API types.
package chaos
