// Package server is pyexec's HTTP edge: it speaks python-executor's wire
// protocol (see package api for the bodies) with julienschmidt/httprouter.
//
// It owns request decoding and validation (JSON /eval bodies, multipart
// tar + metadata uploads, per-request limits against the server's bounds),
// the execution records and their bounded in-memory store, the queue and
// the workers that hand validated jobs to a Runner, kill, long-polling,
// metrics and the API description served at /openapi.json and /docs.
//
// The package knows nothing about jails, cgroups or configuration files: it
// depends only on the Runner and Interpreters interfaces it declares in
// runner.go, and receives its settings as plain values in Options.
package server
