// Package list names every file extractor, so that the whole set reads in
// one file (STYLE.md §2). Callers build fresh instances from the
// constructors.
package list

import (
	"slices"

	"github.com/vigilsec/vigil/internal/extractor"
	"github.com/vigilsec/vigil/internal/extractor/lang/cargolock"
	"github.com/vigilsec/vigil/internal/extractor/lang/composerlock"
	"github.com/vigilsec/vigil/internal/extractor/lang/gemfilelock"
	"github.com/vigilsec/vigil/internal/extractor/lang/gobinary"
	"github.com/vigilsec/vigil/internal/extractor/lang/gomod"
	"github.com/vigilsec/vigil/internal/extractor/lang/java"
	"github.com/vigilsec/vigil/internal/extractor/lang/node"
	"github.com/vigilsec/vigil/internal/extractor/lang/npmlock"
	"github.com/vigilsec/vigil/internal/extractor/lang/pipfile"
	"github.com/vigilsec/vigil/internal/extractor/lang/pnpmlock"
	"github.com/vigilsec/vigil/internal/extractor/lang/poetry"
	"github.com/vigilsec/vigil/internal/extractor/lang/pomxml"
	"github.com/vigilsec/vigil/internal/extractor/lang/python"
	"github.com/vigilsec/vigil/internal/extractor/lang/requirements"
	"github.com/vigilsec/vigil/internal/extractor/lang/yarnlock"
	"github.com/vigilsec/vigil/internal/extractor/os/apk"
	"github.com/vigilsec/vigil/internal/extractor/os/dpkg"
	"github.com/vigilsec/vigil/internal/extractor/os/rpm"
)

// InitFn builds one extractor.
type InitFn func() extractor.Extractor

// InitMap maps extractor names to their constructors.
type InitMap map[string]InitFn

// OS holds the extractors of OS package databases.
var OS = InitMap{
	dpkg.Name: dpkg.New,
	rpm.Name:  rpm.New,
	apk.Name:  apk.New,
}

// Lang holds the extractors of language packages: binaries, archives,
// installed-package directories and lockfiles.
var Lang = InitMap{
	cargolock.Name:    cargolock.New,
	composerlock.Name: composerlock.New,
	gemfilelock.Name:  gemfilelock.New,
	gobinary.Name:     gobinary.New,
	gomod.Name:        gomod.New,
	java.Name:         java.New,
	node.Name:         node.New,
	npmlock.Name:      npmlock.New,
	pipfile.Name:      pipfile.New,
	pnpmlock.Name:     pnpmlock.New,
	poetry.Name:       poetry.New,
	pomxml.Name:       pomxml.New,
	python.Name:       python.New,
	requirements.Name: requirements.New,
	yarnlock.Name:     yarnlock.New,
}

// All holds every extractor.
var All = join(OS, Lang)

func join(maps ...InitMap) InitMap {
	all := InitMap{}
	for _, m := range maps {
		for name, fn := range m {
			all[name] = fn
		}
	}
	return all
}

// Build returns one new instance of each extractor of m, ordered by name.
func (m InitMap) Build() []extractor.Extractor {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]extractor.Extractor, 0, len(names))
	for _, name := range names {
		out = append(out, m[name]())
	}
	return out
}
