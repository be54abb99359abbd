package configs

import (
	"strings"
	"testing"
)

func TestResolveRecordsDir(t *testing.T) {
	for _, tt := range []struct {
		name  string
		given string
		rt    Runtime
		want  string
	}{
		{"root", "", Runtime{}, "/var/lib/pyexec/records"},
		{"rootless", "", Runtime{Rootless: true, Home: "/home/u"}, "/home/u/.local/share/pyexec/records"},
		{"rootless without a home", "", Runtime{Rootless: true}, ""},
		{"given", "/srv/records", Runtime{Rootless: true, Home: "/home/u"}, "/srv/records"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.Execution.RecordsDir = tt.given
			c.Resolve(tt.rt)
			if c.Execution.RecordsDir != tt.want {
				t.Errorf("records_dir = %q, want %q", c.Execution.RecordsDir, tt.want)
			}
		})
	}
}

func TestValidateRecords(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*Config)
		key  string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"relative dir", func(c *Config) { c.Execution.RecordsDir = "records" }, "execution.records_dir"},
		{"no queue budget", func(c *Config) { c.Execution.QueueMaxMB = 0 }, "execution.queue_max_mb"},
		{"records budget below one record", func(c *Config) { c.Execution.RecordsMaxMB = 32 }, "execution.records_max_mb"},
		{"one record fits", func(c *Config) { c.Execution.RecordsMaxMB = 33 }, ""},
		{"larger outputs need more", func(c *Config) {
			c.Limits.Max.MaxOutputBytes = 64 << 20
			c.Execution.RecordsMaxMB = 100
		}, "execution.records_max_mb"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.Resolve(Runtime{})
			tt.set(&c)
			var p problems
			c.validateRecords(&p)
			switch {
			case tt.key == "" && len(p) > 0:
				t.Errorf("problems: %v", p)
			case tt.key != "" && (len(p) != 1 || !strings.HasPrefix(p[0].Error(), tt.key+":")):
				t.Errorf("problems %v, want one for %s", p, tt.key)
			}
		})
	}
}
