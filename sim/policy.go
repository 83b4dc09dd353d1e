package sim

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"github.com/sparkdra/sparkdra/scaler"
)

// PolicySpec is what a re-simulation runs: a static executor count, or
// the DRA engine with a configuration (Spark's DRA, or a sparkdra policy).
type PolicySpec struct {
	// Name is the spelling given: "static:N", "spark" or a sparkdra policy.
	Name string
	// Static is the executor count of "static:N"; 0 for DRA policies.
	Static int
	// Config is the DRA configuration (DRA policies only).
	Config scaler.Config
}

// IsStatic reports whether the spec is a fixed executor count.
func (p PolicySpec) IsStatic() bool { return p.Static > 0 }

// ParsePolicy reads "static:N" (N ≥ 1 executors for the whole run),
// "spark" or a sparkdra policy name (scaler.Policies), with the
// application's Spark properties overlaid by overrides (the --conf
// KEY=VALUE pairs). The DRA configuration is validated as Spark would.
func ParsePolicy(name string, appConf, overrides map[string]string) (PolicySpec, error) {
	spec := PolicySpec{Name: name}
	if n, ok := strings.CutPrefix(name, "static:"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 {
			return spec, fmt.Errorf("policy %q: static:N needs a whole number of executors N >= 1", name)
		}
		spec.Static = v
		return spec, nil
	}
	if !scaler.Policy(name).Valid() || name == "" {
		var names []string
		for _, p := range scaler.Policies() {
			names = append(names, string(p))
		}
		return spec, fmt.Errorf("policy %q: want static:N or one of %s", name, strings.Join(names, ", "))
	}
	props := maps.Clone(appConf)
	if props == nil {
		props = map[string]string{}
	}
	maps.Copy(props, overrides)
	props[scaler.KeyPolicy] = name
	cfg, err := scaler.ParseConfig(props)
	if err != nil {
		return spec, fmt.Errorf("policy %q: %w", name, err)
	}
	spec.Config = cfg
	return spec, nil
}

// ParseConfs reads KEY=VALUE pairs.
func ParseConfs(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	var errs []error
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			errs = append(errs, fmt.Errorf("--conf %q: want KEY=VALUE", kv))
			continue
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, errors.Join(errs...)
}
