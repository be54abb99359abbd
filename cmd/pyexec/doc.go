// Command pyexec is the command-line client of a pyexec server. It keeps
// the flags, subcommands, output and exit codes of python-executor's CLI
// (named python-executor there), so scripts written for it keep working.
//
// Usage:
//
//	pyexec [global flags] run [file.py|dir|project.tar[.gz]] [-- script args]
//	pyexec [global flags] submit [file.py|dir|project.tar[.gz]] [-- script args]
//	pyexec [global flags] follow EXECUTION_ID
//	pyexec [global flags] kill EXECUTION_ID
//	pyexec [global flags] eval [code]
//	pyexec version
//
// Run "pyexec help" for the flags. The server URL comes from --server, else
// the PYEXEC_SERVER environment variable, else http://localhost:8080. A
// server with bearer tokens gets the one of --token, else of PYEXEC_TOKEN.
//
// The exit code is the script's own; 124 when the execution timed out, 137
// when it was killed, 1 when it failed without an exit code, 2 for usage
// errors and errors from the server or the connection, 130 when
// interrupted.
package main
