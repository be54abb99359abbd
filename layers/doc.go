// Package layers owns the dependency layers: each distinct set of
// requirements of an interpreter is installed once, by that interpreter's
// pip in an install jail (same isolation as user code, plus the host's
// network when the index needs it, its own memory, time and disk limits,
// writing only to the new layer; wheels only unless source builds are
// allowed, so no package code runs there), into a content-addressed
// directory that runs then mount read-only.
//
// Layout under Config.Dir:
//
//	.lock                     flock: one server per cache
//	layers/                   bound read-only into every jail (Cache.Bind)
//	layers/<key>/layer/       the packages (pip --target), root-owned, read-only
//	layers/<key>/layer.json   Meta, written before the directory is renamed
//	                          into place; its mtime is the last use
//	.tmp-*                    builds (with their tmpfs mounted) and removals
//	                          in progress, outside layers/; removed at start-up
//
// A <key> directory appears only by an atomic rename of a finished build,
// so a crash leaves .tmp-* (removed at start-up), never a half-written
// layer; a <key> directory whose layer.json is missing or does not match
// is removed at start-up and rebuilt on demand; one directly under Dir
// (the layout before layers/) is moved into layers/. Concurrent requests for
// one key share one build; a failed build is not kept. The cache is kept
// under a size cap by evicting the least recently used layers, never one
// a run holds (Acquire ... Lease.Release).
//
// Imports detected in a program are best-effort (AcquireDetected): they
// join the explicit requirements' layer only when it does not provide
// their module already, and only those that pip installs; what a
// request's imports came to is remembered for a while, by content.
package layers
