package graph

import (
	"sync/atomic"

	"github.com/vektah/gqlparser/v2/ast"
)

// listPlan says how the responses of one operation split into elements.
type listPlan struct {
	alias  string // the response key of the products field
	idsVar string // the variable that holds the ids
	// limit is the complexity limit the operation was validated against:
	// an assembled answer must not pass a list that executing it would
	// refuse.
	limit int
	// off is set once an execution for missing ids could not be kept for
	// a reason that would repeat (a field that is read live): the
	// operation is then executed whole, as any other.
	off atomic.Bool
}

// planOf returns the plan of op when its responses split into elements,
// or nil.
func planOf(op *ast.OperationDefinition, limit int) *listPlan {
	if op == nil || op.Operation != ast.Query || len(op.SelectionSet) != 1 {
		return nil
	}
	f, ok := op.SelectionSet[0].(*ast.Field)
	if !ok || f.Name != "products" || len(f.Directives) > 0 || len(f.Arguments) != 1 {
		return nil
	}
	arg := f.Arguments[0]
	if arg.Name != "ids" || arg.Value == nil || arg.Value.Kind != ast.Variable {
		return nil
	}
	// Used once: in the ids argument, and nowhere in the selection.
	if varUses(f.SelectionSet, arg.Value.Raw, map[string]bool{}) > 0 {
		return nil
	}
	return &listPlan{alias: f.Alias, idsVar: arg.Value.Raw, limit: limit}
}

// varUses counts the uses of the variable name in the arguments and
// directives of set, fragments included (each fragment once).
func varUses(set ast.SelectionSet, name string, seen map[string]bool) int {
	n := 0
	dirs := func(ds ast.DirectiveList) {
		for _, d := range ds {
			for _, a := range d.Arguments {
				n += valueUses(a.Value, name)
			}
		}
	}
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			for _, a := range s.Arguments {
				n += valueUses(a.Value, name)
			}
			dirs(s.Directives)
			n += varUses(s.SelectionSet, name, seen)
		case *ast.InlineFragment:
			dirs(s.Directives)
			n += varUses(s.SelectionSet, name, seen)
		case *ast.FragmentSpread:
			dirs(s.Directives)
			if s.Definition != nil && !seen[s.Name] {
				seen[s.Name] = true
				dirs(s.Definition.Directives)
				n += varUses(s.Definition.SelectionSet, name, seen)
			}
		}
	}
	return n
}

// valueUses counts the uses of the variable name in v.
func valueUses(v *ast.Value, name string) int {
	if v == nil {
		return 0
	}
	if v.Kind == ast.Variable {
		if v.Raw == name {
			return 1
		}
		return 0
	}
	n := 0
	for _, c := range v.Children {
		n += valueUses(c.Value, name)
	}
	return n
}
