// Package requirements owns the pure side of dependency installs: it
// parses, validates and normalises requirements.txt text (a PEP 508 subset:
// name, extras, version specifiers, environment markers; never pip options,
// URLs, paths or direct references, so a request cannot steer pip),
// computes the content address of an install (interpreter version +
// normalised requirements + index settings), and detects the third-party
// distributions a program imports (a Go scanner of Python import
// statements, the interpreter's standard library and the program's own
// modules left out, import names mapped to distribution names).
//
// It does no I/O and imports nothing of the jail, so the HTTP layer uses it
// to refuse a bad requirement with a 400 before a job is queued.
package requirements
