package jail

import (
	"errors"
	"time"
)

// ErrNoZygote is returned by ZygotePool.StartSession when no zygote of the
// key serves now (none yet, failing, or every run slot busy).
var ErrNoZygote = errors.New("session: no zygote serves this interpreter now")

// StartSession forks a session from key's zygote (see Zygote.StartSession).
// A zygote that is still starting is waited for up to wait.
func (p *ZygotePool) StartSession(key string, a Activation, grace, wait time.Duration) (*Session, error) {
	s := p.slots[key]
	if s == nil || p.closed.Load() {
		return nil, ErrNoZygote
	}
	deadline := time.Now().Add(wait)
	for {
		z := s.current()
		if z != nil {
			sess, err := z.StartSession(a, grace)
			switch {
			case errors.Is(err, ErrZygoteBusy), errors.Is(err, ErrZygoteDead):
				s.missed.Add(1)
				return nil, ErrNoZygote
			case err != nil:
				return nil, err
			}
			s.served.Add(1)
			return sess, nil
		}
		if time.Now().After(deadline) || p.closed.Load() {
			s.missed.Add(1)
			return nil, ErrNoZygote
		}
		time.Sleep(50 * time.Millisecond)
	}
}
