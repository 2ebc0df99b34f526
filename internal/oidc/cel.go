package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
)

// CELCostLimit bounds one condition's evaluation (cel-go cost units); a
// condition over a few claims costs tens.
const CELCostLimit = 10_000

// maxCachedPrograms bounds the program cache; past it the cache restarts.
const maxCachedPrograms = 4096

// CEL compiles trust-policy conditions once and caches the programs by
// source text, so reloading policies from the store never recompiles.
// Conditions see the claims as `claims` (and `assertion`, GCP's name).
type CEL struct {
	env   *cel.Env
	mu    sync.Mutex
	progs map[string]cel.Program
}

// NewCEL builds the condition environment.
func NewCEL() (*CEL, error) {
	m := cel.MapType(cel.StringType, cel.DynType)
	// ext.Strings gives lowerAscii() and friends: claims reach conditions
	// as sent, so names that compare case-insensitively elsewhere (the
	// claim table in compare.go) need it here.
	env, err := cel.NewEnv(cel.Variable("claims", m), cel.Variable("assertion", m), ext.Strings())
	if err != nil {
		return nil, err
	}
	return &CEL{env: env, progs: map[string]cel.Program{}}, nil
}

// Compile parses and type-checks expr, which must be a bool expression.
func (c *CEL) Compile(expr string) (cel.Program, error) {
	c.mu.Lock()
	p, ok := c.progs[expr]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	ast, iss := c.env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("CEL: %v", iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("CEL: the condition must be a bool expression, this one is %s", ast.OutputType())
	}
	p, err := c.env.Program(ast, cel.CostLimit(CELCostLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("CEL: %v", err)
	}
	c.mu.Lock()
	if len(c.progs) >= maxCachedPrograms {
		c.progs = map[string]cel.Program{}
	}
	c.progs[expr] = p
	c.mu.Unlock()
	return p, nil
}

// celClaims converts verified claims to CEL values: json.Number becomes an
// int when integral, else a double.
func celClaims(raw map[string]any) map[string]any {
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		out[k] = celValue(v)
	}
	return out
}

func celValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		return celClaims(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = celValue(e)
		}
		return out
	}
	return v
}

// evalCondition runs a compiled condition. An evaluation error (a missing
// claim, the cost limit) is a false condition with the error as reason.
func evalCondition(p cel.Program, vars map[string]any) (bool, error) {
	out, _, err := p.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, errors.New("condition did not return a bool")
	}
	return b, nil
}
