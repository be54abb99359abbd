package main

import (
	"os"

	"github.com/pyexec/pyexec/api"
)

// cmdEval sends code to /eval and prints stdout, then the result.
func (c *cli) cmdEval(pos, rest []string) int {
	req, err := c.evalRequest(pos, rest)
	if err != nil {
		return c.fail(err)
	}
	cl, err := c.newClient()
	if err != nil {
		return c.fail(err)
	}
	if c.streaming() {
		var out streamOut
		rec, err := cl.EvalStream(c.ctx, req, c.printEvent(&out))
		if err != nil {
			return c.fail(err)
		}
		return c.reportStreamed(rec, !c.e.noResult, out)
	}
	pr := c.startProgress("running", "")
	rec, err := cl.Eval(c.ctx, req)
	pr.finish()
	if err != nil {
		return c.fail(err)
	}
	return c.report(rec, !c.e.noResult)
}

// evalRequest builds the /eval body from the code argument (or stdin) and
// the flags.
func (c *cli) evalRequest(pos, rest []string) (api.EvalRequest, error) {
	args := append(append([]string{}, pos...), rest...)
	var code string
	fromStdin := false
	switch {
	case len(args) > 1:
		return api.EvalRequest{}, usageErrorf("eval takes the code as one argument (quote it), not %d", len(args))
	case len(args) == 1 && args[0] != "-":
		code = args[0]
	default:
		if len(args) == 0 && isTerminal(c.stdin) {
			return api.EvalRequest{}, usageErrorf("no code given: pass it as an argument or pipe it on stdin")
		}
		b, err := readAll(c.stdin)
		if err != nil {
			return api.EvalRequest{}, err
		}
		code, fromStdin = string(b), true
	}
	if code == "" {
		return api.EvalRequest{}, usageErrorf("no code given")
	}
	req := api.EvalRequest{
		Code:          code,
		PythonVersion: c.e.python,
		EvalLastExpr:  !c.e.noResult,
		Config:        c.g.config(),
	}
	if req.PythonVersion == "" && c.g.image != "" {
		v, err := pythonFromImage(c.g.image)
		if err != nil {
			return api.EvalRequest{}, err
		}
		req.PythonVersion = v
	}
	if c.e.requirements != "" {
		b, err := os.ReadFile(c.e.requirements)
		if err != nil {
			return api.EvalRequest{}, err
		}
		req.RequirementsTxt = string(b)
	}
	if c.e.stdinFile != "" {
		if c.e.stdinFile == "-" && fromStdin {
			return api.EvalRequest{}, usageErrorf("--stdin-file - cannot be used when the code comes from stdin")
		}
		s, err := c.readFileArg(c.e.stdinFile)
		if err != nil {
			return api.EvalRequest{}, err
		}
		req.Stdin = s
	}
	return req, nil
}
