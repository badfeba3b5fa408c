// Package app owns fleetgate's command tree: it parses flags into the options of the packages that
// do the work (proxy, bootstrap, propagate, localenv, deploy and deploy/install), validates and
// completes them, and runs them.
// It contains wiring only; behaviour lives in those packages.
package app
