package server

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/pyexec/pyexec/api"
)

// sessions keeps the server's sessions: the live ones (at most MaxLive,
// each holding its memory limit in the dispatcher's budget) and, for
// RecordTTL, the ended ones, so that GET tells how they ended.
type sessions struct {
	opts SessionOptions
	ttl  time.Duration
	disp *dispatcher

	mu    sync.Mutex
	byID  map[string]*session
	cells liveCells // waiting and running cells
	live  int
	stop  chan struct{}
	done  chan struct{}
	close sync.Once
}

// session is one session and what the API shows of it.
type session struct {
	id      string
	caller  string
	created time.Time
	interp  api.Interpreter
	limits  Limits
	results ResultLimits
	idle    time.Duration
	j       SessionJail

	mu       sync.Mutex
	lastUsed time.Time
	cells    int
	busy     int    // requests in progress (one runs, the others wait)
	state    string // final state once ended; "" while live
	reason   string
	endedAt  time.Time
	exit     *int
	usage    api.Usage
}

func newSessions(opts SessionOptions, ttl time.Duration, disp *dispatcher) *sessions {
	s := &sessions{opts: opts, ttl: ttl, disp: disp, byID: map[string]*session{},
		stop: make(chan struct{}), done: make(chan struct{})}
	go s.sweep()
	return s
}

func newSessionID() string { return "ses_" + uuid.NewString() }

// admit counts a new session against MaxLive and the memory budget; the
// caller calls unadmit if it does not start.
func (s *sessions) admit(mem int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live >= s.opts.MaxLive {
		return errSessionsFull
	}
	if !s.disp.reserve(mem) {
		return errSessionMemory
	}
	s.live++
	return nil
}

func (s *sessions) unadmit(mem int64) {
	s.mu.Lock()
	s.live--
	s.mu.Unlock()
	s.disp.unreserve(mem)
}

// add keeps a started session and watches for its end.
func (s *sessions) add(ss *session) {
	s.mu.Lock()
	s.byID[ss.id] = ss
	s.mu.Unlock()
	go func() {
		<-ss.j.Done()
		ss.finish()
		s.unadmit(ss.limits.MemoryBytes)
	}()
}

// finish records how the session ended.
func (ss *session) finish() {
	e := ss.j.End()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.state != "" {
		return
	}
	ss.endedAt = time.Now()
	code := e.ExitCode
	ss.exit = &code
	ss.usage = e.Usage
	ss.reason = e.Reason
	switch {
	case e.OOMKilled:
		ss.state = api.SessionOOM
		ss.reason = fmt.Sprintf("the session's memory limit of %d MB was exceeded", ss.limits.MemoryBytes>>20)
	case e.Reason == reasonClosed || e.Reason == reasonShutdown:
		ss.state = api.SessionClosed
	case e.Reason == reasonIdle || e.Reason == reasonLifetime:
		ss.state = api.SessionExpired
	case e.Killed:
		ss.state = api.SessionKilled
	default:
		ss.state = api.SessionExited
		ss.reason = fmt.Sprintf("the code ended the session with exit code %d", code)
	}
}

// ended reports whether the session's end is recorded.
func (ss *session) ended() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.state != ""
}

// Why the server ends a session (Kill's reasons).
const (
	reasonClosed   = "closed by request"
	reasonShutdown = "the server shut down"
	reasonIdle     = "idle past its idle timeout"
	reasonLifetime = "past the server's maximum session life"
)

// get returns the caller's session with the id (live or ended).
func (s *sessions) get(id, caller string) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok || ss.caller != caller {
		return nil, false
	}
	return ss, true
}

// list returns the caller's sessions, oldest first.
func (s *sessions) list(caller string) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	for _, ss := range s.byID {
		if ss.caller == caller {
			out = append(out, ss)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

// use marks a request on the session: it is busy until the returned
// function runs, and not idle for the idle timeout meanwhile.
func (ss *session) use() func() {
	ss.mu.Lock()
	ss.busy++
	ss.lastUsed = time.Now()
	ss.mu.Unlock()
	return func() {
		ss.mu.Lock()
		ss.busy--
		ss.lastUsed = time.Now()
		ss.mu.Unlock()
	}
}

// sweep ends idle and old sessions and forgets ended ones after the TTL.
func (s *sessions) sweep() {
	defer close(s.done)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-tick.C:
			s.mu.Lock()
			for id, ss := range s.byID {
				ss.mu.Lock()
				state, busy, last, ended := ss.state, ss.busy, ss.lastUsed, ss.endedAt
				ss.mu.Unlock()
				switch {
				case state != "" && now.Sub(ended) > s.ttl:
					delete(s.byID, id)
				case state != "":
				case now.Sub(ss.created) > s.opts.MaxLifetime:
					ss.j.Kill(reasonLifetime)
				case busy == 0 && now.Sub(last) > ss.idle:
					ss.j.Kill(reasonIdle)
				}
			}
			s.mu.Unlock()
		}
	}
}

// shutdown ends every live session and waits for their ends (or ctx).
func (s *sessions) shutdown(deadline <-chan struct{}) {
	s.close.Do(func() { close(s.stop) })
	<-s.done
	s.mu.Lock()
	var live []*session
	for _, ss := range s.byID {
		live = append(live, ss)
	}
	s.mu.Unlock()
	for _, ss := range live {
		ss.j.Kill(reasonShutdown)
	}
	for _, ss := range live {
		select {
		case <-ss.j.Done():
		case <-deadline:
			return
		}
	}
}

// view is the API's description of the session.
func (ss *session) view() api.Session {
	u := ss.j.Usage()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v := api.Session{
		SessionID:     ss.id,
		PythonVersion: ss.interp.Version,
		CreatedAt:     ss.created.UTC(),
		LastUsedAt:    ss.lastUsed.UTC(),
		CellsRun:      ss.cells,
		Limits: api.SessionLimits{
			MemoryMB: int(ss.limits.MemoryBytes >> 20), DiskMB: int(ss.limits.DiskBytes >> 20),
			CPUShares: ss.limits.CPUShares, CPULimit: ss.limits.CPULimit, PidsLimit: ss.limits.Pids,
			MaxOutputBytes: ss.limits.MaxOutputBytes, TimeoutSeconds: int(ss.limits.Timeout / time.Second),
			IdleTimeoutSeconds: int(ss.idle / time.Second),
		},
	}
	switch {
	case ss.state != "":
		v.State, v.Reason = ss.state, ss.reason
		ended := ss.endedAt.UTC()
		v.EndedAt = &ended
		code := *ss.exit
		v.ExitCode = &code
		u := ss.usage
		v.Usage = &u
		return v
	case ss.busy > 0:
		v.State = api.SessionBusy
	default:
		v.State = api.SessionIdle
	}
	v.Usage = &u
	return v
}
