package api

// Event names of the Server-Sent Events stream of GET
// /api/v1/executions/{id}/events and of POST /api/v1/eval (or
// /api/v1/exec/sync) sent with "Accept: text/event-stream" (ours).
//
// A stream is: one EventStatus, then EventStdout and EventStderr chunks
// in the order each stream was written (EventStatus again when the code
// starts running, EventDropped when this reader fell behind), and last
// one EventDone whose data is the final Execution record. Each event's
// data is one line of JSON.
const (
	EventStatus  = "status"  // StatusEvent
	EventStdout  = "stdout"  // OutputEvent
	EventStderr  = "stderr"  // OutputEvent
	EventDropped = "dropped" // DroppedEvent
	EventDone    = "done"    // Execution
)

// StatusEvent is the data of a "status" event: the execution's id and
// status when the stream starts, and "running" once its code runs.
type StatusEvent struct {
	ExecutionID string `json:"execution_id"`
	Status      string `json:"status"`
}

// OutputEvent is the data of a "stdout" or "stderr" event: the next bytes
// of that stream as the code wrote them (a chunk never splits a UTF-8
// character; invalid UTF-8 is replaced by U+FFFD, as in the record).
// Concatenated, a stream's chunks are the record's stdout or stderr,
// unless bytes were dropped.
type OutputEvent struct {
	Text string `json:"text"`
}

// DroppedEvent is the data of a "dropped" event: how many bytes of each
// stream this reader has missed so far because it read slower than the
// code wrote (the run is never slowed down for a reader). The counts only
// grow; the final record still holds the whole output.
type DroppedEvent struct {
	StdoutBytes int64 `json:"stdout_bytes"`
	StderrBytes int64 `json:"stderr_bytes"`
}
