package server

import (
	"bufio"
	"io"
	"strconv"
	"sync"

	"github.com/pyexec/pyexec/api"
)

// durationBuckets are the upper bounds, in seconds, of the run-duration
// histogram.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}

// finalStatuses are the statuses counted by pyexec_executions_total, in
// output order.
var finalStatuses = []string{api.StatusCompleted, api.StatusFailed, api.StatusKilled}

// metrics holds the counters behind GET /metrics, written by hand in the
// Prometheus text exposition format.
type metrics struct {
	mu          sync.Mutex
	byStatus    map[string]uint64
	buckets     []uint64 // non-cumulative counts per durationBuckets entry, plus +Inf
	durationSum float64  // seconds
	runs        uint64
	cells       map[string]uint64 // session cells by final status (in byStatus too)
	rejections  uint64
	quota       uint64 // 429s for a token past its share
	unauth      uint64 // 401s
}

// gauges are the values of the moment that /metrics shows.
type gauges struct {
	running, queued int
	memoryInUse     int64 // bytes: memory limits of the running executions
	memoryBudget    int64 // bytes; 0: no budget
}

func newMetrics() *metrics {
	return &metrics{
		byStatus: make(map[string]uint64),
		cells:    make(map[string]uint64),
		buckets:  make([]uint64, len(durationBuckets)+1),
	}
}

// finished counts a final record; runs that started feed the histogram.
func (m *metrics) finished(e api.Execution) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count(e)
}

// cellFinished counts a session cell's final record: as a run's, and
// among the cells.
func (m *metrics) cellFinished(e api.Execution) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cells[e.Status]++
	m.count(e)
}

// count is finished's, under m.mu.
func (m *metrics) count(e api.Execution) {
	m.byStatus[e.Status]++
	if e.StartedAt == nil {
		return
	}
	sec := float64(e.DurationMS) / 1000
	i := 0
	for i < len(durationBuckets) && sec > durationBuckets[i] {
		i++
	}
	m.buckets[i]++
	m.durationSum += sec
	m.runs++
}

// rejected counts a submission turned away because the queue was full.
func (m *metrics) rejected() {
	m.mu.Lock()
	m.rejections++
	m.mu.Unlock()
}

// quotaRejected counts a submission refused because its token had its
// share.
func (m *metrics) quotaRejected() {
	m.mu.Lock()
	m.quota++
	m.mu.Unlock()
}

// unauthorized counts a request refused with 401.
func (m *metrics) unauthorized() {
	m.mu.Lock()
	m.unauth++
	m.mu.Unlock()
}

func (m *metrics) write(w io.Writer, g gauges) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b := bufio.NewWriter(w)
	defer b.Flush()

	head := func(name, kind, help string) {
		b.WriteString("# HELP " + name + " " + help + "\n# TYPE " + name + " " + kind + "\n")
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

	head("pyexec_executions_total", "counter", "Finished executions by final status (session cells included).")
	for _, st := range finalStatuses {
		b.WriteString(`pyexec_executions_total{status="` + st + `"} ` + u(m.byStatus[st]) + "\n")
	}

	head("pyexec_session_cells_total", "counter", "Finished session cells by final status (counted in pyexec_executions_total too).")
	for _, st := range finalStatuses {
		b.WriteString(`pyexec_session_cells_total{status="` + st + `"} ` + u(m.cells[st]) + "\n")
	}

	head("pyexec_execution_duration_seconds", "histogram", "Run time of the executions that started (session cells included).")
	var cum uint64
	for i, le := range durationBuckets {
		cum += m.buckets[i]
		b.WriteString(`pyexec_execution_duration_seconds_bucket{le="` + f(le) + `"} ` + u(cum) + "\n")
	}
	cum += m.buckets[len(durationBuckets)]
	b.WriteString(`pyexec_execution_duration_seconds_bucket{le="+Inf"} ` + u(cum) + "\n")
	b.WriteString("pyexec_execution_duration_seconds_sum " + f(m.durationSum) + "\n")
	b.WriteString("pyexec_execution_duration_seconds_count " + u(m.runs) + "\n")

	head("pyexec_queue_rejections_total", "counter", "Submissions refused with 429 because the queue was full.")
	b.WriteString("pyexec_queue_rejections_total " + u(m.rejections) + "\n")

	head("pyexec_token_quota_rejections_total", "counter", "Submissions refused with 429 because their token had its share of the slots and the queue.")
	b.WriteString("pyexec_token_quota_rejections_total " + u(m.quota) + "\n")
	head("pyexec_http_unauthorized_total", "counter", "Requests refused with 401 (no token, or not a valid one).")
	b.WriteString("pyexec_http_unauthorized_total " + u(m.unauth) + "\n")

	head("pyexec_executions_running", "gauge", "Executions running now.")
	b.WriteString("pyexec_executions_running " + strconv.Itoa(g.running) + "\n")
	head("pyexec_executions_queued", "gauge", "Executions waiting for a free slot.")
	b.WriteString("pyexec_executions_queued " + strconv.Itoa(g.queued) + "\n")
	head("pyexec_memory_admitted_bytes", "gauge", "Sum of the memory limits of the running executions.")
	b.WriteString("pyexec_memory_admitted_bytes " + strconv.FormatInt(g.memoryInUse, 10) + "\n")
	head("pyexec_memory_budget_bytes", "gauge", "Most the memory limits of running executions may sum to; 0: no budget.")
	b.WriteString("pyexec_memory_budget_bytes " + strconv.FormatInt(g.memoryBudget, 10) + "\n")
}
