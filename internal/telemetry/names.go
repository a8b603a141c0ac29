package telemetry

import (
	"regexp"
	"sync"
)

// operationNames turns client-chosen operation names into metric labels
// and span names of bounded cardinality. Safe for concurrent use.
type operationNames struct {
	mu    sync.Mutex
	known map[string]struct{}
	max   int
}

// The labels that stand for no name and for a name not admitted.
const (
	anonymous = "anonymous"
	other     = "other"
)

// namePattern is a GraphQL name of at most 64 characters.
var namePattern = regexp.MustCompile(`^[_A-Za-z][_0-9A-Za-z]{0,63}$`)

func newOperationNames(max int) *operationNames {
	return &operationNames{known: map[string]struct{}{}, max: max}
}

// label returns the label of an operation named name: "anonymous" for no
// name; name itself when it is known already, or when it is a GraphQL name
// of a valid operation and fewer than max names are known; "other" for the
// rest. Only valid operations admit new names, so garbage requests cannot
// fill the table; the first max names win for the life of the process.
func (n *operationNames) label(name string, valid bool) string {
	if name == "" {
		return anonymous
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.known[name]; ok {
		return name
	}
	if !valid || len(n.known) >= n.max || !namePattern.MatchString(name) || name == other || name == anonymous {
		return other
	}
	n.known[name] = struct{}{}
	return name
}
