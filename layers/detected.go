package layers

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
)

// SkipKind says why a detected import was left out of a layer.
type SkipKind int

const (
	// SkipNotOnIndex: pip found no distribution of that name ("No
	// matching distribution found").
	SkipNotOnIndex SkipKind = iota + 1
	// SkipFailed: the distribution exists but pip could not install it
	// with the rest (a dependency missing or in conflict, a limit).
	SkipFailed
	// SkipTooMany: there was no room left under
	// requirements.MaxRequirements.
	SkipTooMany
	// SkipNotTried: maxDetectedFailures installs with detected packages
	// had failed before this one's turn.
	SkipNotTried
)

// maxDetectedFailures bounds the failed pip runs that one request's
// detected imports may cost: pip names one missing distribution per run,
// so code importing many names that are on no index would otherwise cost
// a run each.
const maxDetectedFailures = 8

func (k SkipKind) String() string {
	switch k {
	case SkipNotOnIndex:
		return "not on the index"
	case SkipFailed:
		return "failed to install"
	case SkipTooMany:
		return "too many requirements"
	case SkipNotTried:
		return "not tried"
	}
	return "unknown"
}

// Skip is a detected import left out of a layer.
type Skip struct {
	// Name is the canonical name of the distribution.
	Name string
	Kind SkipKind
	// Reason is pip's failure, for clients (SkipFailed only).
	Reason string
}

// AcquireDetected is Acquire for explicit requirements plus imports
// detected in the code, which are best-effort: explicit is installed as
// asked, and its failure is AcquireDetected's (an *InstallError, as from
// Acquire). A detected import is added only when no requirement of
// explicit names a provider of it and explicit's own layer does not make
// its module importable (acme-widgets installs module widgets: a detected
// "widgets" is not installed over it). A detected distribution that pip
// cannot install, alone or with the rest, is left out and returned among
// the skips, never as an error: the code raises ModuleNotFoundError
// itself if it needs it. The lease is nil when nothing is installed.
//
// What a request's detected imports came to, and which names pip found on
// no index, is remembered for memoTTL: a repeated request costs one
// Acquire, as one without detected imports does. A first request costs
// the explicit layer's install, then one pip run for the lot, plus one per
// detected name not on the index; a detected package that fails in
// another way is found by halving the set (one more pip run per half);
// past maxDetectedFailures failed runs, the detected packages not yet
// tried are left out.
func (c *Cache) AcquireDetected(ctx context.Context, in interpreters.Interpreter, explicit requirements.List,
	detected []requirements.Import) (*Lease, []Skip, error) {
	detected = explicit.Unsatisfied(detected)
	if len(detected) == 0 {
		lease, err := c.acquireSome(ctx, in, explicit)
		return lease, nil, err
	}
	mk := c.memoKey(in, explicit, detected)
	if set, ok := c.memo.set(mk); ok {
		lease, err := c.acquireSome(ctx, in, set.reqs)
		var ie *InstallError
		if !errors.As(err, &ie) {
			return lease, set.skips, err
		}
		c.memo.forgetSet(mk) // that set no longer installs: work it out again
	}

	base, err := c.acquireSome(ctx, in, explicit)
	if err != nil {
		return nil, nil, err
	}
	var todo []requirements.Requirement
	var skips []Skip
	for _, imp := range detected {
		switch {
		case base != nil && base.provides(imp.Module):
		case c.memo.isMissing(c.missingKey(in, imp.Dist)):
			skips = append(skips, Skip{Name: imp.Dist, Kind: SkipNotOnIndex})
		case len(explicit.Reqs)+len(todo) >= requirements.MaxRequirements:
			skips = append(skips, Skip{Name: imp.Dist, Kind: SkipTooMany})
		default:
			todo = append(todo, requirements.Requirement{Name: imp.Dist})
		}
	}
	lease, reqs, more, err := c.extend(ctx, in, base, explicit, todo)
	if err != nil {
		return nil, nil, err
	}
	skips = append(skips, more...)
	slices.SortStableFunc(skips, func(a, b Skip) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range skips {
		c.log.Info("auto-detected package left out", "python", in.Version, "package", s.Name, "kind", s.Kind, "reason", s.Reason)
	}
	c.memo.putSet(mk, reqs, skips)
	return lease, skips, nil
}

// acquireSome is Acquire, or a nil lease for no requirements.
func (c *Cache) acquireSome(ctx context.Context, in interpreters.Interpreter, reqs requirements.List) (*Lease, error) {
	if reqs.Empty() {
		return nil, nil
	}
	return c.Acquire(ctx, in, reqs)
}

// extend adds to the layer of reqs (held by lease, nil when reqs is
// empty) as many of extra as pip installs with it: the whole group first;
// when pip finds no distribution of a name of the group, without that
// name; on any other failure, each half of the group in turn, down to the
// one requirement that fails; after maxDetectedFailures failed installs,
// the rest is not tried. It returns the lease on the final layer, its
// requirements and what it left out. On error it has released every lease.
func (c *Cache) extend(ctx context.Context, in interpreters.Interpreter, lease *Lease, reqs requirements.List,
	extra []requirements.Requirement) (*Lease, requirements.List, []Skip, error) {
	var skips []Skip
	failed := map[string]*InstallError{} // sets that failed here, by text: a failed install is not kept
	groups := [][]requirements.Requirement{extra}
	for len(groups) > 0 {
		g := groups[len(groups)-1]
		groups = groups[:len(groups)-1]
		if len(failed) >= maxDetectedFailures {
			for _, r := range g {
				skips = append(skips, Skip{Name: r.Name, Kind: SkipNotTried})
			}
			continue
		}
		if len(g) == 0 {
			continue
		}
		more := reqs.Add(g...)
		ie := failed[more.Text()]
		if ie == nil {
			next, err := c.Acquire(ctx, in, more)
			switch {
			case err == nil:
				if lease != nil {
					lease.Release()
				}
				lease, reqs = next, more
				continue
			case !errors.As(err, &ie):
				if lease != nil {
					lease.Release()
				}
				return nil, requirements.List{}, nil, err
			}
			failed[more.Text()] = ie
		}
		missing := missingDist(ie.Output)
		if i := slices.IndexFunc(g, func(r requirements.Requirement) bool { return r.Name == missing }); i >= 0 {
			skips = append(skips, Skip{Name: g[i].Name, Kind: SkipNotOnIndex})
			c.memo.putMissing(c.missingKey(in, g[i].Name))
			groups = append(groups, slices.Delete(slices.Clone(g), i, i+1))
			continue
		}
		if len(g) == 1 {
			skips = append(skips, Skip{Name: g[0].Name, Kind: SkipFailed, Reason: ie.Reason})
			continue
		}
		half := len(g) / 2
		groups = append(groups, g[half:], g[:half]) // the first half is tried first
	}
	return lease, reqs, skips, nil
}

// missingDist is the canonical name of the distribution that pip's output
// says it found none of, or "".
func missingDist(output []byte) string {
	// Compiled here, on failures only: a package-level regexp would be
	// compiled in every jail's init too.
	m := regexp.MustCompile(`No matching distribution found for ([A-Za-z0-9][A-Za-z0-9._-]*)`).FindSubmatch(output)
	if m == nil {
		return ""
	}
	return requirements.Canonical(strings.TrimRight(string(m[1]), "._-"))
}

// memoKey is the content address of a request's explicit requirements and
// detected imports (the explicit ones apart: their failures are the
// request's).
func (c *Cache) memoKey(in interpreters.Interpreter, explicit requirements.List, detected []requirements.Import) string {
	names := make([]string, len(detected))
	for i, imp := range detected {
		names[i] = imp.Dist + "=" + imp.Module
	}
	slices.Sort(names)
	return requirements.Key(in.Version, explicit, c.cfg.Index) + "\n" + strings.Join(names, "\n")
}

// missingKey is the content address of installing the distribution name
// alone with interpreter in.
func (c *Cache) missingKey(in interpreters.Interpreter, name string) string {
	return requirements.Key(in.Version, requirements.List{Reqs: []requirements.Requirement{{Name: name}}}, c.cfg.Index)
}
