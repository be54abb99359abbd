package configs

import "time"

// SessionsConfig is the stateful sessions of /api/v1/sessions (ours):
// forks of the zygotes whose interpreter runs cell after cell.
type SessionsConfig struct {
	// Enabled offers sessions; they also need zygote.enabled (without it a
	// session request gets 503 saying so).
	Enabled bool `mapstructure:"enabled"`
	// MaxLive caps the sessions alive at once (429 past it). Each holds its
	// memory_mb of execution.memory_budget_mb while it lives.
	MaxLive int `mapstructure:"max_live"`
	// IdleTimeout ends a session after this long without a cell or a file
	// transfer, unless its request asks for another idle_timeout_seconds
	// ...
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxIdleTimeout is the most a request may ask for.
	MaxIdleTimeout time.Duration `mapstructure:"max_idle_timeout"`
	// InterruptGrace is how long a cell past its timeout has to stop after
	// its KeyboardInterrupt before the session is killed.
	InterruptGrace time.Duration `mapstructure:"interrupt_grace"`
	// MaxLifetime ends a session this long after its start, busy or not.
	MaxLifetime time.Duration `mapstructure:"max_lifetime"`
}

func defaultSessions() SessionsConfig {
	return SessionsConfig{Enabled: true, MaxLive: 32, IdleTimeout: 10 * time.Minute, MaxIdleTimeout: 2 * time.Hour,
		InterruptGrace: 2 * time.Second, MaxLifetime: 24 * time.Hour}
}

func (s SessionsConfig) validate(p *problems) {
	if s.MaxLive < 1 || s.MaxLive > 10000 {
		p.add("sessions.max_live", "must be in 1..10000, got %d", s.MaxLive)
	}
	p.duration("sessions.idle_timeout", s.IdleTimeout, time.Second)
	if s.MaxIdleTimeout < s.IdleTimeout {
		p.add("sessions.max_idle_timeout", "must be >= sessions.idle_timeout (%s), got %s", s.IdleTimeout, s.MaxIdleTimeout)
	}
	p.duration("sessions.interrupt_grace", s.InterruptGrace, 100*time.Millisecond)
	p.duration("sessions.max_lifetime", s.MaxLifetime, time.Second)
}
