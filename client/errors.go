package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/pyexec/pyexec/api"
)

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// APIError is a non-2xx answer of the server. Message is the "error" field
// of the JSON body, or the status text when the body is not such JSON.
// Use errors.As to get it from an error returned by a Client method.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("server returned %d: %s", e.StatusCode, e.Message)
}

// IsNotFound reports whether err is, or wraps, an *APIError with status 404,
// e.g. an unknown execution id.
func IsNotFound(err error) bool {
	return StatusCode(err) == http.StatusNotFound
}

// StatusCode returns the HTTP status of the *APIError in err's chain, or 0
// when there is none (transport errors, decoding errors, nil).
func StatusCode(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// decodeError turns a non-2xx response into an *APIError.
func decodeError(resp *http.Response) *APIError {
	ae := &APIError{StatusCode: resp.StatusCode}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var e api.Error
	if json.Unmarshal(body, &e) == nil && strings.TrimSpace(e.Error) != "" {
		ae.Message = e.Error
		return ae
	}
	ae.Message = http.StatusText(resp.StatusCode)
	if ae.Message == "" {
		ae.Message = fmt.Sprintf("HTTP status %d", resp.StatusCode)
	}
	return ae
}
