package main

import (
	"fmt"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// oneID returns the single execution id of follow and kill.
func oneID(cmd string, pos, rest []string) (string, error) {
	args := append(append([]string{}, pos...), rest...)
	if len(args) != 1 || args[0] == "" {
		return "", usageErrorf("%s takes one execution id", cmd)
	}
	return args[0], nil
}

// cmdFollow waits for an execution with long-polls and reports it like run.
func (c *cli) cmdFollow(pos, rest []string) int {
	id, err := oneID("follow", pos, rest)
	if err != nil {
		return c.fail(err)
	}
	cl, err := c.newClient()
	if err != nil {
		return c.fail(err)
	}
	if c.g.verbose && !c.g.quiet {
		fmt.Fprintf(c.stderr, "Following execution %s...\n", id)
	}
	pr := c.startProgress("waiting", id)
	rec, err := cl.Wait(c.ctx, id, &client.WaitOptions{
		Progress: func(r *api.Execution) { pr.set(r.Status, "") },
	})
	pr.finish()
	if err != nil {
		return c.fail(err)
	}
	return c.report(rec, false)
}

// cmdKill kills an execution and says what became of it.
func (c *cli) cmdKill(pos, rest []string) int {
	id, err := oneID("kill", pos, rest)
	if err != nil {
		return c.fail(err)
	}
	cl, err := c.newClient()
	if err != nil {
		return c.fail(err)
	}
	status, err := cl.Kill(c.ctx, id)
	if err != nil {
		return c.fail(err)
	}
	if c.g.quiet {
		return exitOK
	}
	if status == api.StatusKilled {
		fmt.Fprintln(c.stdout, "Execution killed")
	} else {
		fmt.Fprintf(c.stdout, "Execution not running (status: %s)\n", status)
	}
	return exitOK
}
