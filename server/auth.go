package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// Tokens are the bearer tokens the server accepts. With none at all the
// server is open: every request is served, as python-executor serves it.
// With any, every endpoint but /health needs one ("Authorization: Bearer
// <token>", 401 without a valid one).
type Tokens struct {
	// User tokens may use every endpoint but the admin ones.
	User []string
	// Admin tokens may use every endpoint, the admin ones included: GET
	// /api/v1/deps (which lists the requirements of other clients' runs)
	// and DELETE /api/v1/deps/{key} (403 with a user token).
	Admin []string
}

// Open reports whether there are no tokens.
func (t Tokens) Open() bool { return len(t.User) == 0 && len(t.Admin) == 0 }

// authRealm names the server in WWW-Authenticate.
const authRealm = `Bearer realm="pyexec"`

// caller is who sent a request: in an open server, the anonymous caller
// (id ""), else the holder of one token.
type caller struct {
	// id tells the holders of different tokens apart (per-token quotas,
	// logs): a prefix of the token's SHA-256, never the token.
	id    string
	admin bool
}

// authenticator checks presented tokens against the configured ones.
type authenticator struct {
	open    bool
	entries []tokenEntry
}

type tokenEntry struct {
	sum    [sha256.Size]byte
	caller caller
}

func newAuthenticator(t Tokens) *authenticator {
	a := &authenticator{open: t.Open()}
	seen := map[[sha256.Size]byte]int{}
	add := func(tok string, admin bool) {
		sum := sha256.Sum256([]byte(tok))
		if i, ok := seen[sum]; ok {
			a.entries[i].caller.admin = a.entries[i].caller.admin || admin
			return
		}
		seen[sum] = len(a.entries)
		a.entries = append(a.entries, tokenEntry{sum: sum, caller: caller{id: "tok-" + hex.EncodeToString(sum[:6]), admin: admin}})
	}
	for _, tok := range t.Admin {
		add(tok, true)
	}
	for _, tok := range t.User {
		add(tok, false)
	}
	return a
}

// check returns the caller holding tok. It compares the token's hash with
// every configured one, in constant time and without stopping at a match,
// so that the time taken tells nothing about the tokens.
func (a *authenticator) check(tok string) (caller, bool) {
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i := range a.entries {
		if subtle.ConstantTimeCompare(sum[:], a.entries[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return caller{}, false
	}
	return a.entries[found].caller, true
}

// bearerToken returns the token of an "Authorization: Bearer <token>"
// header (the scheme in any case, RFC 7235).
func bearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

type callerKey struct{}

// callerOf returns the caller authenticate found for the request; the
// anonymous caller of an open server has id "" and is an admin.
func callerOf(ctx context.Context) caller {
	if c, ok := ctx.Value(callerKey{}).(caller); ok {
		return c
	}
	return caller{admin: true}
}

// authenticate lets a request through when the server is open, when it is
// for /health, or when it carries a valid token; anything else gets a 401
// with WWW-Authenticate. The caller goes into the request's context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.auth.open {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			next.ServeHTTP(w, r)
			return
		}
		tok, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			s.unauthorized(w, r, authRealm, "this server needs a token: send the header \"Authorization: Bearer <token>\"")
			return
		}
		c, ok := s.auth.check(tok)
		if !ok {
			s.unauthorized(w, r, authRealm+`, error="invalid_token"`, "the token is not valid")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, challenge, msg string) {
	s.metrics.unauthorized()
	s.log.Debug("unauthorized request", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	w.Header().Set("WWW-Authenticate", challenge)
	writeError(w, http.StatusUnauthorized, msg)
}

// adminOnly serves h only to an admin token's holder (or anyone, when the
// server is open); other callers get a 403.
func (s *Server) adminOnly(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if !callerOf(r.Context()).admin {
			w.Header().Set("WWW-Authenticate", authRealm+`, error="insufficient_scope"`)
			writeError(w, http.StatusForbidden, "this endpoint needs an admin token (server.admin_tokens)")
			return
		}
		h(w, r, ps)
	}
}
