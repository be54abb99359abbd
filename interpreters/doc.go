// Package interpreters finds the Python interpreters installed on the host
// (pyenv versions, /usr/bin/python3.X, /usr/local/bin/python3.X, configured
// paths), selects one for a request ("3.12", "3.12.1", "python:3.12-slim"),
// and owns the small bootstrap script that runs the user's code inside a
// jail with `python /work/<entrypoint>` semantics and reports the
// structured result (eval_last_expr value, error type and line) on a
// separate file descriptor.
package interpreters
