// Package api holds the wire types of pyexec's HTTP API: the request and
// response bodies of python-executor's contract (compat) and pyexec's
// additive fields (ours). The server and the Go client both use these types,
// so the JSON names live in exactly one place.
//
// The package is pure Go with no dependencies beyond the standard library.
package api
