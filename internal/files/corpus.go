package files

import (
	_ "embed"
	"strconv"
	"strings"
	"sync"
)

//go:embed testdata/traversal.txt
var traversalFile string

// TraversalCorpus returns the shared traversal corpus,
// testdata/traversal.txt: names that every route and node input must
// refuse, as a file name and as a subfolder, so that tests of the HTTP
// routes and the nodes can run the same cases as this package's. The
// names are given after percent-decoding; encode them once to send them.
// Symbolic-link cases need files on disk and are not part of it.
func TraversalCorpus() []string {
	return append([]string(nil), traversalCases()...)
}

// traversalCases parses the embedded file once.
var traversalCases = sync.OnceValue(func() []string {
	var cases []string
	for _, line := range strings.Split(traversalFile, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '"' {
			// TestTraversalCorpusFile checks that every literal unquotes.
			if s, err := strconv.Unquote(line); err == nil {
				line = s
			}
		}
		cases = append(cases, line)
	}
	return cases
})
