package requirements

import (
	"slices"
	"strings"
	"testing"
)

func TestImports(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"import as", "import a.b as c", []string{"a.b"}},
		{"several", "import os, sys as s, x.y.z", []string{"os", "sys", "x.y.z"}},
		{"from", "from x import y", []string{"x", "x.y"}},
		{"from dotted", "from x.y import z as w, v", []string{"x.y", "x.y.z", "x.y.v"}},
		{"from parenthesised", "from x import (\n    y,\n    z as w,\n)\nimport after", []string{"x", "x.y", "x.z", "after"}},
		{"from star", "from x import *", []string{"x"}},
		{"relative", "from . import z\nfrom .m import z\nfrom ..pkg.m import z\nfrom ... import q", nil},
		{"try except", "try:\n    import ujson as json\nexcept ImportError:\n    import json", []string{"ujson", "json"}},
		{"if else", "if x:\n    import a\nelif y:\n    pass\nelse:\n    from b import c", []string{"a", "b", "b.c"}},
		{"nested def class", "def f():\n    import inner\n    class K:\n        import deeper\n        def g(self):\n            from deepest import x", []string{"inner", "deeper", "deepest", "deepest.x"}},
		{"async def", "async def f():\n    import aio", []string{"aio"}},
		{"one-line compound", "if True: import one; import two", []string{"one", "two"}},
		{"after semicolon", "x = 1; import semi", []string{"semi"}},
		{"with", "with open(f) as g: import inside_with", []string{"inside_with"}},
		{"decorated", "@dec(1)\ndef f(): import deco", []string{"deco"}},
		{"match", "match x:\n    case 1:\n        import inmatch", []string{"inmatch"}},
		{"type checking", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import typed", []string{"typing", "typing.TYPE_CHECKING", "typed"}},
		{"strings and comments", "s = 'import no1'\n# import no2\n\"\"\"\nimport no3\n\"\"\"\nt = '''\nfrom no4 import x\n'''\nimport yes", []string{"yes"}},
		{"string with quotes", `x = '''it's "import no" '''` + "\nimport yes", []string{"yes"}},
		{"escaped quote", `x = "a\"; import no"` + "\nimport yes", []string{"yes"}},
		{"raw string", `x = r"a\"; import no"` + "\nimport yes", []string{"yes"}},
		{"bytes and prefixes", `x = b'import no'; y = Rb"import no"; z = u'import no'` + "\nimport yes", []string{"yes"}},
		{"f-string", "f'{x!r} import no'\nimport yes", []string{"yes"}},
		{"f-string format spec", "f\"{x:>{width}} import no\"\nimport yes", []string{"yes"}},
		{"f-string nested quotes", "f\"{d[\"import\"]} import no\"\nimport yes", []string{"yes"}},
		{"f-string nested f-string", "f'{f\"{y}\"} ; import no'\nimport yes", []string{"yes"}},
		{"f-string braces", "f'{{import no}}'\nimport yes", []string{"yes"}},
		{"unterminated string", "s = 'abc\nimport yes", []string{"yes"}},
		{"continuation", "import a, \\\n    b\nfrom x \\\n  import y", []string{"a", "b", "x", "x.y"}},
		{"spaced dots", "import   spaced  .  name", []string{"spaced.name"}},
		{"dict colon", "x = {'a': 1,\n 'import': 2}\nimport yes", []string{"yes"}},
		{"lambda and slices", "f = lambda: 0\ny = z[1:2]\nimport yes", []string{"yes"}},
		{"not statements", "yield from gen\nraise X from e\nimportlib.import_module('x')\nimport_thing = 1\nx.from_y = 2", nil},
		{"future", "from __future__ import annotations", []string{"__future__", "__future__.annotations"}},
		{"duplicates once", "import a\nimport a\nfrom a import b\nimport a.b", []string{"a", "a.b"}},
		{"CRLF and tabs", "import a\r\nif x:\r\n\timport b\r\n", []string{"a", "b"}},
		{"BOM", "\ufeffimport bommed", []string{"bommed"}},
		{"non-ascii names", "café = 1\nimport naïve", []string{"naïve"}},
		{"walrus", "if (n := 1): import w", []string{"w"}},
		{"annotation", "x: int = 1\nimport yes", []string{"yes"}},
		{"broken code", "import (\nimport", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Imports([]byte(tt.src))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Imports(%q) = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestDetect(t *testing.T) {
	stdlib := []string{"os", "sys", "json", "typing", "tomllib"}
	files := []File{
		{Path: "main.py", Data: []byte(strings.Join([]string{
			"import numpy as np",
			"import os, json",
			"import sklearn.linear_model",
			"from PIL import Image",
			"import helper",
			"from pkg import thing",
			"import yaml",
			"import google.cloud.storage",
			"from google.cloud import bigquery",
			"import google",
			"from . import rel",
			"try:",
			"    import cv2",
			"except ImportError:",
			"    cv2 = None",
			"def f():",
			"    import requests",
			"import numpy",
			"import tomllib",
			"from __future__ import annotations",
		}, "\n"))},
		{Path: "helper.py", Data: []byte("import bs4\n")},
		{Path: "pkg/__init__.py", Data: []byte("from .sub import thing\n")},
		{Path: "pkg/sub.py", Data: []byte("import dateutil.parser\n")},
		{Path: "notes.txt", Data: []byte("import notpython\n")},
	}
	var got []string
	for _, imp := range Detect(files, "main.py", stdlib) {
		got = append(got, imp.Dist)
	}
	want := []string{"numpy", "scikit-learn", "pillow", "PyYAML", "google-cloud-storage", "google-cloud-bigquery",
		"opencv-python", "requests", "beautifulsoup4", "python-dateutil"}
	if !slices.Equal(got, want) {
		t.Errorf("Detect = %q\nwant     %q", got, want)
	}

	t.Run("stdlib of the version", func(t *testing.T) {
		src := []File{{Path: "main.py", Data: []byte("import tomllib")}}
		if d := Detect(src, "main.py", []string{"tomllib"}); len(d) != 0 {
			t.Errorf("3.11 stdlib: %v", d)
		}
		if d := Detect(src, "main.py", []string{"os"}); len(d) != 1 || d[0].Dist != "tomllib" {
			t.Errorf("3.10 stdlib: %v", d)
		}
	})
	t.Run("installed in the interpreter", func(t *testing.T) {
		src := []File{{Path: "main.py", Data: []byte("import requests, yaml, numpy")}}
		d := Detect(src, "main.py", []string{"os", "sys"}, []string{"_yaml", "pip", "requests", "yaml"})
		if len(d) != 1 || d[0].Dist != "numpy" {
			t.Errorf("Detect = %v, want numpy only", d)
		}
	})
	t.Run("names that make no requirement", func(t *testing.T) {
		src := []File{{Path: "main.py", Data: []byte(strings.Join([]string{
			"import x\u2028numpy", // U+2028 is a line break to pip
			"import café",
			"import _private",
			"from _internal import x",
			"import google.cloud.café", // google.cloud: a namespace, not guessed
			"import numpy.café",        // numpy is still needed
			"import über.sub",
			"import requests",
		}, "\n"))}}
		d := Detect(src, "main.py", nil)
		var got []string
		for _, imp := range d {
			got = append(got, imp.Dist)
		}
		if want := []string{"numpy", "requests"}; !slices.Equal(got, want) {
			t.Errorf("Detect = %q, want %q", got, want)
		}
		text := List{}.With(d).Text()
		if l, err := Parse(text); err != nil || l.Text() != text {
			t.Errorf("detected requirements %q do not parse back: %v", text, err)
		}
		// With never writes an invalid line, whatever Import it is given.
		bad := []Import{{Module: "x", Dist: "x\u2028numpy"}, {Module: "y", Dist: ""}, {Module: "z", Dist: "-r evil"}}
		if got := (List{}).With(bad); !got.Empty() {
			t.Errorf("With(invalid names) = %q", got.Text())
		}
	})
	t.Run("own files next to the entrypoint", func(t *testing.T) {
		src := []File{
			{Path: "app/main.py", Data: []byte("import util\nimport models.user\nimport lib\nimport requests")},
			{Path: "app/util.py"},
			{Path: "app/models/user.py"},
			{Path: "lib.cpython-312-x86_64-linux-gnu.so"},
		}
		d := Detect(src, "app/main.py", nil)
		if len(d) != 1 || d[0].Dist != "requests" {
			t.Errorf("Detect = %v, want requests only", d)
		}
	})
}

func TestDistribution(t *testing.T) {
	tests := map[string]string{
		"sklearn":                   "scikit-learn",
		"sklearn.svm":               "scikit-learn",
		"PIL.Image":                 "pillow",
		"cv2":                       "opencv-python",
		"yaml":                      "PyYAML",
		"bs4":                       "beautifulsoup4",
		"requests":                  "requests",
		"requests.adapters":         "requests",
		"attr":                      "attrs",
		"dateutil.parser":           "python-dateutil",
		"Crypto.Cipher.AES":         "pycryptodome",
		"google.protobuf.message":   "protobuf",
		"google.cloud.speech":       "google-cloud-speech",
		"google.cloud.pubsub_v1":    "google-cloud-pubsub",
		"google.cloud":              "",
		"google":                    "",
		"azure.servicebus":          "azure-servicebus",
		"azure.mgmt.compute.models": "azure-mgmt-compute",
		"azure.storage.blob":        "azure-storage-blob",
		"ruamel.yaml":               "ruamel.yaml",
		"zope":                      "",
		"mysql.connector":           "mysql-connector-python",
		"MySQLdb":                   "mysqlclient",
		"jwt":                       "PyJWT",
	}
	for mod, want := range tests {
		if got, _ := Distribution(mod); got != want {
			t.Errorf("Distribution(%q) = %q, want %q", mod, got, want)
		}
	}
}

// TestTable checks the import table's shape: well-formed entries, and at
// least the 100 most used mismatches (import name != distribution name).
func TestTable(t *testing.T) {
	mismatches := 0
	seen := map[string]bool{}
	for _, e := range table() {
		imp, dist := e.imp, e.dist
		if seen[imp] {
			t.Errorf("import %q listed twice", imp)
		}
		seen[imp] = true
		for _, part := range strings.Split(imp, ".") {
			if part == "" || !identStart(part[0]) || strings.IndexFunc(part, func(r rune) bool { return !identPart(byte(r)) }) >= 0 {
				t.Errorf("import %q: not a dotted identifier", imp)
			}
		}
		if !validName(dist) {
			t.Errorf("%q -> %q: not a distribution name", imp, dist)
		}
		top, _, _ := strings.Cut(imp, ".")
		if Canonical(top) != Canonical(dist) {
			mismatches++
		}
	}
	if mismatches < 100 {
		t.Errorf("%d mismatches in the table, want at least 100", mismatches)
	}
	for _, imp := range []string{"cv2", "PIL", "psycopg2", "Crypto", "magic", "faiss", "kafka", "telegram", "fpdf", "ulid"} {
		alts := alternatives(imp)
		if !seen[imp] || len(alts) == 0 {
			t.Errorf("alternatives for %q: %v, in the table: %v", imp, alts, seen[imp])
		}
		for _, a := range alts {
			if !validName(a) {
				t.Errorf("alternative %q of %q: not a distribution name", a, imp)
			}
		}
	}
}

// TestTableDoesNotAllocate checks that the import table is built once,
// not by every Distribution call.
func TestTableDoesNotAllocate(t *testing.T) {
	var sink []mapping
	if n := testing.AllocsPerRun(10, func() { sink = table() }); n != 0 {
		t.Errorf("table() made %v allocations, want 0", n)
	}
	if len(sink) < 100 {
		t.Errorf("table has %d entries", len(sink))
	}
}

func TestWith(t *testing.T) {
	l, err := Parse("scikit-learn==1.3.0\nopencv-python-headless\nPillow<11")
	if err != nil {
		t.Fatal(err)
	}
	src := []File{{Path: "main.py", Data: []byte("import sklearn, cv2, numpy\nfrom PIL import Image\nimport yaml")}}
	got := l.With(Detect(src, "main.py", nil)).Text()
	want := "numpy\nopencv-python-headless\npillow<11\npyyaml\nscikit-learn==1.3.0\n"
	if got != want {
		t.Errorf("With = %q, want %q", got, want)
	}
	if empty := (List{}).With(nil); !empty.Empty() {
		t.Errorf("empty With nil = %v", empty)
	}
}

func TestUnsatisfied(t *testing.T) {
	l, err := Parse("acme-widgets==1.0\nPillow")
	if err != nil {
		t.Fatal(err)
	}
	src := []File{{Path: "main.py", Data: []byte("import widgets, numpy\nfrom PIL import Image\nimport Foo_Bar.x, foo_bar\n")}}
	var got []string
	for _, imp := range l.Unsatisfied(Detect(src, "main.py", nil)) {
		got = append(got, imp.Module+"="+imp.Dist)
	}
	// pillow is named; widgets is not (acme-widgets may provide it: only
	// its installed files can tell); one entry per distribution, canonical.
	if want := []string{"widgets=widgets", "numpy=numpy", "Foo_Bar.x=foo-bar"}; !slices.Equal(got, want) {
		t.Errorf("Unsatisfied = %q, want %q", got, want)
	}
}

func TestAdd(t *testing.T) {
	l, err := Parse("b==1\n-")
	if err != nil {
		t.Fatal(err)
	}
	got := l.Add(Requirement{Name: "c"}, Requirement{Name: "a"}, Requirement{Name: "b"})
	if got.Text() != "a\nb==1\nc\n" || !got.NoDetect || l.Text() != "b==1\n" {
		t.Errorf("Add = %q (NoDetect %v), l = %q", got.Text(), got.NoDetect, l.Text())
	}
}
