package main

import (
	"fmt"
	"strconv"
	"strings"
)

// flagDef is one command-line flag. A flag is a bool flag when isBool is
// set; otherwise it takes a value, given as "--name value" or
// "--name=value" (short: "-n value", "-nvalue").
type flagDef struct {
	long   string // without dashes
	short  string // one letter, or ""
	isBool bool
	arg    string // value placeholder in the help, e.g. "URL"
	usage  string
	set    func(string) error
}

// flagSet is a set of flags parsed the GNU way: flags may come before and
// after positional arguments, "--" ends them, and short bool flags combine
// ("-qv"). The standard flag package stops at the first positional
// argument, which the CLI of python-executor does not.
type flagSet struct {
	defs []*flagDef
}

func (fs *flagSet) add(d *flagDef) { fs.defs = append(fs.defs, d) }

func (fs *flagSet) boolVar(p *bool, long, short, usage string) {
	fs.add(&flagDef{long: long, short: short, isBool: true, usage: usage, set: func(s string) error {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", s)
		}
		*p = v
		return nil
	}})
}

func (fs *flagSet) stringVar(p *string, long, short, arg, usage string) {
	fs.add(&flagDef{long: long, short: short, arg: arg, usage: usage, set: func(s string) error {
		*p = s
		return nil
	}})
}

func (fs *flagSet) intVar(p *int, long, arg, usage string) {
	fs.add(&flagDef{long: long, arg: arg, usage: usage, set: func(s string) error {
		v, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", s)
		}
		*p = v
		return nil
	}})
}

// listVar appends every value; with split, a value is also split at commas
// (python-executor's --file took "a.py,b.py").
func (fs *flagSet) listVar(p *[]string, long, short, arg, usage string, split bool) {
	fs.add(&flagDef{long: long, short: short, arg: arg, usage: usage, set: func(s string) error {
		if !split {
			*p = append(*p, s)
			return nil
		}
		for _, v := range strings.Split(s, ",") {
			if v != "" {
				*p = append(*p, v)
			}
		}
		return nil
	}})
}

// lookup finds a flag by long name, or by short name when short is set.
func (fs *flagSet) lookup(name string, short bool) *flagDef {
	for _, d := range fs.defs {
		if (short && d.short == name) || (!short && d.long == name) {
			return d
		}
	}
	return nil
}

// parse sets the flags in args and returns the positional arguments before
// "--" and every argument after it.
func (fs *flagSet) parse(args []string) (pos, rest []string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return pos, args[i+1:], nil
		case a == "-" || !strings.HasPrefix(a, "-"):
			pos = append(pos, a)
			continue
		}
		next := func() (string, bool) {
			if i+1 >= len(args) {
				return "", false
			}
			i++
			return args[i], true
		}
		if err := fs.parseOne(a, next); err != nil {
			return nil, nil, err
		}
	}
	return pos, nil, nil
}

// parseOne handles the flag argument a; next consumes the following
// argument as a value.
func (fs *flagSet) parseOne(a string, next func() (string, bool)) error {
	name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
	long := strings.HasPrefix(a, "--")
	d := fs.lookup(name, false)
	if d == nil && !long {
		// "-server URL" is accepted like "--server URL"; otherwise a
		// single dash starts short flags.
		return fs.parseShort(a[1:], next)
	}
	if d == nil || name == "" {
		return usageErrorf("unknown flag %s", a)
	}
	return apply(d, "--"+d.long, value, hasValue, next)
}

// parseShort handles "-q", "-qv", "-e VAR", "-eVAR" and "-e=VAR".
func (fs *flagSet) parseShort(s string, next func() (string, bool)) error {
	for j := 0; j < len(s); j++ {
		d := fs.lookup(s[j:j+1], true)
		if d == nil {
			return usageErrorf("unknown flag -%s", s[j:j+1])
		}
		if d.isBool {
			if err := apply(d, "-"+d.short, "", false, next); err != nil {
				return err
			}
			continue
		}
		value := strings.TrimPrefix(s[j+1:], "=")
		return apply(d, "-"+d.short, value, value != "", next)
	}
	return nil
}

// apply sets d from value, or from the next argument when d takes a value
// that was not given inline.
func apply(d *flagDef, shown, value string, hasValue bool, next func() (string, bool)) error {
	switch {
	case d.isBool && !hasValue:
		value = "true"
	case !d.isBool && !hasValue:
		v, ok := next()
		if !ok {
			return usageErrorf("flag %s needs a value", shown)
		}
		value = v
	}
	if err := d.set(value); err != nil {
		return usageErrorf("flag %s: %v", shown, err)
	}
	return nil
}

// findCommand returns the first positional argument of args (the
// subcommand) and args without it. Flags before it are skipped, with their
// values when fs says they take one.
func findCommand(fs *flagSet, args []string) (string, []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if a == "-" || !strings.HasPrefix(a, "-") {
			rest := append(append([]string{}, args[:i]...), args[i+1:]...)
			return a, rest
		}
		if strings.Contains(a, "=") {
			continue
		}
		if fs.takesNext(a) {
			i++
		}
	}
	return "", args
}

// takesNext reports whether the flag argument a (no "=" in it) consumes
// the next argument as its value.
func (fs *flagSet) takesNext(a string) bool {
	name := strings.TrimLeft(a, "-")
	if d := fs.lookup(name, false); d != nil {
		return !d.isBool
	}
	if strings.HasPrefix(a, "--") {
		return false
	}
	for j := 0; j < len(name); j++ {
		d := fs.lookup(name[j:j+1], true)
		if d == nil {
			return false
		}
		if !d.isBool {
			return j == len(name)-1
		}
	}
	return false
}
