package configs

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Bounds of the HTTP settings.
const (
	minHTTPTimeout  = time.Second
	maxHTTPTimeout  = time.Hour
	maxHeaderKB     = 1024
	maxConnections  = 1 << 20
	minTokenLength  = 16
	maxTokenLength  = 4096
	tokenFileMaxLen = 1 << 20
)

func (s ServerConfig) validateHTTP(p *problems) {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"server.read_header_timeout", s.ReadHeaderTimeout},
		{"server.read_timeout", s.ReadTimeout},
		{"server.write_timeout", s.WriteTimeout},
		{"server.idle_timeout", s.IdleTimeout},
	} {
		if d.v < minHTTPTimeout || d.v > maxHTTPTimeout {
			p.add(d.key, "must be in %s..%s, got %s", minHTTPTimeout, maxHTTPTimeout, d.v)
		}
	}
	if s.ReadHeaderTimeout > s.ReadTimeout {
		p.add("server.read_header_timeout", "must be <= server.read_timeout (%s), got %s", s.ReadTimeout, s.ReadHeaderTimeout)
	}
	if s.MaxHeaderKB < 1 || s.MaxHeaderKB > maxHeaderKB {
		p.add("server.max_header_kb", "must be in 1..%d, got %d", maxHeaderKB, s.MaxHeaderKB)
	}
	if s.MaxConnections < 1 || s.MaxConnections > maxConnections {
		p.add("server.max_connections", "must be in 1..%d, got %d", maxConnections, s.MaxConnections)
	}
}

func (s ServerConfig) validateAuth(p *problems) {
	for _, f := range []struct{ key, path string }{
		{"server.auth_tokens_file", s.AuthTokensFile}, {"server.admin_tokens_file", s.AdminTokensFile},
	} {
		if f.path != "" && !filepath.IsAbs(f.path) {
			p.add(f.key, "must be an absolute path or empty, got %q", f.path)
		}
	}
	for _, l := range []struct {
		key  string
		toks []string
	}{{"server.auth_tokens", s.AuthTokens}, {"server.admin_tokens", s.AdminTokens}} {
		for i, tok := range l.toks {
			if msg := checkToken(tok); msg != "" {
				p.add(fmt.Sprintf("%s[%d]", l.key, i), "%s", msg)
			}
		}
	}
	p.atLeast("server.token_max_concurrent", int64(s.TokenMaxConcurrent), 0)
	p.atLeast("server.token_max_queued", int64(s.TokenMaxQueued), 0)
}

// checkToken says what is wrong with a bearer token, or "". The token
// itself is never in the message.
func checkToken(tok string) string {
	if len(tok) < minTokenLength || len(tok) > maxTokenLength {
		return fmt.Sprintf("a token must have %d to %d characters, this one has %d", minTokenLength, maxTokenLength, len(tok))
	}
	// RFC 6750's b64token: what may follow "Bearer " in a header.
	i := 0
	for i < len(tok) && isTokenChar(tok[i]) {
		i++
	}
	for i < len(tok) && tok[i] == '=' {
		i++
	}
	if i < len(tok) || tok[0] == '=' {
		return "a token may hold only letters, digits and -._~+/ (then = signs at its end)"
	}
	return ""
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

// Tokens returns the bearer tokens: AuthTokens with those of
// AuthTokensFile, and AdminTokens with those of AdminTokensFile, read now.
// Errors name the key and the line, never a token.
func (s ServerConfig) Tokens() (user, admin []string, err error) {
	user, err = withFile("server.auth_tokens_file", s.AuthTokens, s.AuthTokensFile)
	if err != nil {
		return nil, nil, err
	}
	admin, err = withFile("server.admin_tokens_file", s.AdminTokens, s.AdminTokensFile)
	if err != nil {
		return nil, nil, err
	}
	return user, admin, nil
}

// withFile returns toks and the tokens of the file at path ("": none).
func withFile(key string, toks []string, path string) ([]string, error) {
	out := append([]string(nil), toks...)
	if path == "" {
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &FieldError{Key: key, Msg: err.Error()}
	}
	defer f.Close()
	more, err := parseTokens(io.LimitReader(f, tokenFileMaxLen))
	if err != nil {
		return nil, &FieldError{Key: key, Msg: path + ": " + err.Error()}
	}
	if len(more) == 0 {
		return nil, &FieldError{Key: key, Msg: path + ": holds no token"}
	}
	return append(out, more...), nil
}

// parseTokens reads one token a line; blank lines and lines starting with
// # are skipped, spaces around a token ignored.
func parseTokens(r io.Reader) ([]string, error) {
	var toks []string
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxTokenLength+2)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if msg := checkToken(line); msg != "" {
			return nil, fmt.Errorf("line %d: %s", n, msg)
		}
		toks = append(toks, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading: %w", err)
	}
	return toks, nil
}
