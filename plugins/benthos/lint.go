package benthos

import (
	"github.com/benthosdev/benthos/v4/public/bloblang"

	"github.com/auditpull/auditpull/core"
)

// lintMethod is a Bloblang method that validates an auditpull input config
// with the core. The input's ConfigSpec lint rule calls it, so `benthos
// lint` (and a StreamBuilder) reports a bad duration, an unknown region or
// a missing token with the same message, naming the same key, as the input
// would at startup — before anything runs.
const lintMethod = "auditpull_config_lint"

// registerLintMethod must run before the input's ConfigSpec is built: the
// lint rule is parsed then.
func registerLintMethod() {
	spec := bloblang.NewPluginSpec().
		Category("Object & Array Manipulation").
		Description("Checks an `auditpull` input configuration and returns its errors as an array of strings (empty when valid). The `auditpull` input's linter uses it.")
	err := bloblang.RegisterMethodV2(lintMethod, spec, func(*bloblang.ParsedParams) (bloblang.Method, error) {
		return func(v any) (any, error) { return lintConfig(v), nil }, nil
	})
	if err != nil {
		panic(err)
	}
}

// lintConfig returns the core's verdict on an input config as lint
// messages. Structural problems (unknown fields, wrong types, a missing
// source) are left to Benthos' own linter so they are not reported twice.
func lintConfig(v any) []any {
	m, ok := v.(map[string]any)
	if _, hasSource := m["source"]; !ok || !hasSource {
		return nil
	}
	cm, _, err := splitAdapterSettings(m)
	if err == nil {
		err = core.Lint(cm)
	}
	if err != nil {
		return []any{err.Error()}
	}
	return []any{}
}
