package server

import (
	"strings"

	"github.com/pyexec/pyexec/interpreters/requirements"
)

// projectRequirements is the file of a project, at its top, that stands in
// for requirements_txt when the request has none.
const projectRequirements = "requirements.txt"

// maxRequirementsFileBytes bounds projectRequirements (400 past it).
const maxRequirementsFileBytes = 1 << 20

// jobRequirements parses the request's requirements text (named field in
// messages) or, when it has none (empty or only white space), the
// project's top-level requirements.txt, a regular file of t (named where
// in messages), with the same rules: anything but plain requirements is a
// 400 naming the line. Neither gives no requirements.
func jobRequirements(field, text string, t *tree, where string) (requirements.List, error) {
	if strings.TrimSpace(text) != "" {
		return parseRequirements(field, text)
	}
	f, ok := t.file(projectRequirements)
	if !ok || !f.Mode.IsRegular() {
		return requirements.List{}, nil
	}
	if n := f.dataSize(); n > maxRequirementsFileBytes {
		return requirements.List{}, badRequest("%s is %d bytes; the limit is %d bytes", where, n, maxRequirementsFileBytes)
	}
	return parseRequirements(where, string(f.Data))
}
