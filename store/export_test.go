package store

// Exported for the tests of package store_test.

type ScriptCall = scriptCall

var EvalEach = evalEach

func NewScriptCall(keys []string, args ...any) ScriptCall { return scriptCall{keys: keys, args: args} }
