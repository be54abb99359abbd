package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultUserAgent is the User-Agent header sent unless WithUserAgent says
// otherwise.
const DefaultUserAgent = "pyexec-go-client"

// Client talks to one pyexec (or python-executor) server. It is safe for
// concurrent use.
type Client struct {
	base      string // scheme://host[/prefix], no trailing slash, no query
	hc        *http.Client
	userAgent string
	token     string // bearer token; "" sends none
}

// Option configures a Client in New.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc. If nil, or
// without this option, a client with no timeout of its own is used: bound
// calls with their context. A Timeout set on hc applies to every call,
// synchronous executions and long-polls included.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request. Empty means
// DefaultUserAgent.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// WithToken makes every request carry "Authorization: Bearer <token>",
// for a server with server.auth_tokens set (without one it answers 401,
// an *APIError). Empty means no token, as python-executor's clients send
// none. The token is sent as is: use https, or a trusted network, to a
// server that is not on this host.
func WithToken(token string) Option {
	return func(c *Client) {
		c.token = strings.TrimSpace(token)
	}
}

// New returns a Client for the server at baseURL, for example
// "http://localhost:8080" or "https://example.org/pyexec/". A trailing slash
// is ignored, a path prefix is kept, and a URL without a scheme is taken as
// http. A query or fragment is an error.
func New(baseURL string, opts ...Option) (*Client, error) {
	raw := strings.TrimSpace(baseURL)
	if raw == "" {
		return nil, errors.New("client: empty base URL")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: base URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: base URL %q: must not have a query or fragment", baseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	c := &Client{
		base:      u.String(),
		hc:        &http.Client{},
		userAgent: DefaultUserAgent,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// BaseURL returns the normalized base URL, without a trailing slash.
func (c *Client) BaseURL() string { return c.base }

// endpoint joins the base URL, an already escaped path starting with "/"
// and an optional query.
func (c *Client) endpoint(path string, q url.Values) string {
	s := c.base + path
	if len(q) > 0 {
		s += "?" + q.Encode()
	}
	return s
}

// request describes one call: method, path (escaped, from the API root),
// optional query and body, and where a 2xx JSON answer is decoded (nil:
// discarded).
type request struct {
	method      string
	path        string
	query       url.Values
	body        io.Reader
	contentType string
	out         any
}

// do sends r and decodes the answer. A non-2xx answer becomes an *APIError;
// transport errors come back as the *url.Error of net/http.
func (c *Client) do(ctx context.Context, r request) error {
	req, err := c.newRequest(ctx, r, "application/json")
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer func() {
		// Drain a little so the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	if r.out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(r.out); err != nil {
		return fmt.Errorf("client: %s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// newRequest builds the HTTP request of r, asking for the media type
// accept, with the headers every call sends.
func (c *Client) newRequest(ctx context.Context, r request, accept string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, r.method, c.endpoint(r.path, r.query), r.body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	return req, nil
}
