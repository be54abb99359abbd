// Package client is the Go client of pyexec's HTTP API, which is also the
// wire protocol of python-executor: it works against either server.
//
// The package owns the HTTP side of the contract: building URLs under a base
// URL (with or without a path prefix), encoding /eval bodies and the
// multipart tar + metadata uploads of /exec/sync and /exec/async (streamed,
// never buffered whole), decoding records and {"error": ...} bodies into
// [*APIError], and waiting for asynchronous executions with the server's
// ?wait= long-poll, falling back to polling with backoff on servers that
// answer at once. It also builds the uncompressed tar archives that the exec
// endpoints take ([TarFromMap], [TarFromFile], [TarFromFiles], [TarFromDir])
// and picks an entrypoint the way the CLI does ([DetectEntrypoint]).
//
// The wire types live in package [github.com/pyexec/pyexec/api] and
// are shared with the server. The package is pure Go and uses only the
// standard library. Every call takes a [context.Context]: it, not a client
// timeout, bounds how long a call may take, since a synchronous execution
// lasts as long as the code runs.
package client
