package limits

import "time"

// The server's defaults that the configuration also sets (execution.*,
// server.*): a server.Options field left zero takes the same value as a
// configuration that leaves the key out.
const (
	// QueueSize is how many jobs may wait for a free slot.
	QueueSize = 256
	// MaxRecords is how many execution records are kept at the most (at
	// least max_concurrent + queue_size).
	MaxRecords = 10000
	// RecordTTL is how long a finished record is kept.
	RecordTTL = time.Hour
	// MaxCodeKB caps the total source of an /eval request.
	MaxCodeKB = 100
	// MaxRequestMB caps a request body.
	MaxRequestMB = 100
)

// The HTTP connection bounds (server.*_timeout, max_header_kb,
// max_connections).
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 2 * time.Minute
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = time.Minute
	MaxHeaderKB       = 64
	MaxConnections    = 1024
)
