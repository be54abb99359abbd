package requirements

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Index is where pip looks for packages. It is part of an install's key:
// the same requirements from another index are another layer.
type Index struct {
	// URL is pip's --index-url; "" is pip's default.
	URL string
	// ExtraURLs are --extra-index-url values.
	ExtraURLs []string
	// FindLinks are --find-links values: URLs or absolute directories.
	FindLinks []string
	// TrustedHosts are --trusted-host values.
	TrustedHosts []string
	// SourceBuilds lets pip build source distributions, running their
	// build code (setup.py, build backends) in the install jail. False:
	// wheels only (--only-binary=:all:); installing a wheel runs no code
	// of the package.
	SourceBuilds bool
}

// keyVersion changes when the layout of installs changes, so old layers
// are rebuilt rather than reused.
const keyVersion = "pyexec-deps-v1"

// KeyLen is the length of a key: hex digits of a SHA-256 prefix.
const KeyLen = 32

// ValidKey reports whether s has the form of a key.
func ValidKey(s string) bool {
	if len(s) != KeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Key is the content address of installing l with the interpreter of the
// full version python ("3.12.1") from ix: equal keys install the same
// packages. NoDetect is not part of it.
func Key(python string, l List, ix Index) string {
	h := sha256.New()
	field := func(name string, vals ...string) {
		h.Write([]byte(name))
		for _, v := range vals {
			h.Write([]byte{0})
			h.Write([]byte(v))
		}
		h.Write([]byte{'\n'})
	}
	field(keyVersion)
	field("python", python)
	field("requirements", strings.TrimSuffix(l.Text(), "\n"))
	field("index", ix.URL)
	field("extra-index", ix.ExtraURLs...)
	field("find-links", ix.FindLinks...)
	field("trusted-hosts", ix.TrustedHosts...)
	if ix.SourceBuilds { // absent when false: keys of wheel-only layers are unchanged
		field("source-builds")
	}
	return hex.EncodeToString(h.Sum(nil))[:KeyLen]
}
