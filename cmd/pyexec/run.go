package main

import (
	"fmt"

	"github.com/pyexec/pyexec/api"
)

// cmdRun uploads the project to /exec/sync and reports the result; with
// --async it behaves like submit.
func (c *cli) cmdRun(pos, rest []string) int {
	if c.g.async {
		return c.cmdSubmit(pos, rest)
	}
	cl, err := c.newClient()
	if err != nil {
		return c.fail(err)
	}
	p, md, err := c.prepare(pos, rest)
	if err != nil {
		return c.fail(err)
	}
	defer p.Close()
	if c.streaming() {
		var out streamOut
		rec, err := cl.ExecSyncStream(c.ctx, p.tar, md, c.printEvent(&out))
		if err != nil {
			return c.fail(err)
		}
		return c.reportStreamed(rec, false, out)
	}
	pr := c.startProgress("running", "")
	rec, err := cl.ExecSync(c.ctx, p.tar, md)
	pr.finish()
	if err != nil {
		return c.fail(err)
	}
	return c.report(rec, false)
}

// cmdSubmit uploads the project to /exec/async and prints the id.
func (c *cli) cmdSubmit(pos, rest []string) int {
	cl, err := c.newClient()
	if err != nil {
		return c.fail(err)
	}
	p, md, err := c.prepare(pos, rest)
	if err != nil {
		return c.fail(err)
	}
	defer p.Close()
	id, err := cl.ExecAsync(c.ctx, p.tar, md)
	if err != nil {
		return c.fail(err)
	}
	fmt.Fprintln(c.stdout, id)
	return exitOK
}

// prepare loads the project and its metadata.
func (c *cli) prepare(pos, rest []string) (*project, api.Metadata, error) {
	p, err := c.loadProject(pos)
	if err != nil {
		return nil, api.Metadata{}, err
	}
	md, err := c.metadata(p, rest)
	if err != nil {
		p.Close()
		return nil, api.Metadata{}, err
	}
	if c.g.verbose && !c.g.quiet {
		fmt.Fprintf(c.stderr, "Server: %s\nEntrypoint: %s\n", c.g.server, md.Entrypoint)
	}
	return p, md, nil
}
