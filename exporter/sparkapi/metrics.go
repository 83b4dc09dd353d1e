package sparkapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// MetricsJSONPath is where a driver's UI serves its Dropwizard metrics registry as JSON: Spark's
// default MetricsServlet sink (docs/spark-rest.md §5.1). Jetty answers the path without the
// trailing slash with a redirect, so the slash saves a round trip.
const MetricsJSONPath = "/metrics/json/"

// eamSource is the part of a registry key between the prefix and the metric's own name: the
// driver's ExecutorAllocationManagerSource (ExecutorAllocationManagerSource.scala in Spark; its
// sourceName is "ExecutorAllocationManager" and every metric sits under "executors.").
const eamSource = "driver.ExecutorAllocationManager.executors."

var eamSourceBytes = []byte(eamSource)

// The names of the ExecutorAllocationManagerSource metrics, as Spark registers them. Spark says
// they are not a stable API: every one is optional here.
const (
	EAMTargetExecutors          = "numberTargetExecutors"
	EAMMaxNeededExecutors       = "numberMaxNeededExecutors"
	EAMExecutorsToAdd           = "numberExecutorsToAdd"
	EAMExecutorsPendingToRemove = "numberExecutorsPendingToRemove"
	EAMAllExecutors             = "numberAllExecutors"
	EAMDecommissioningExecutors = "numberDecommissioningExecutors"

	EAMGracefullyDecommissioned = "numberExecutorsGracefullyDecommissioned"
	EAMDecommissionUnfinished   = "numberExecutorsDecommissionUnfinished"
	EAMKilledByDriver           = "numberExecutorsKilledByDriver"
	EAMExitedUnexpectedly       = "numberExecutorsExitedUnexpectedly"
)

// AllocationMetrics is the ExecutorAllocationManager source of one driver's /metrics/json: the
// allocation manager's own state, summed by Spark over ResourceProfiles. Gauges maps a gauge's
// name (EAMTargetExecutors, …) to its value, Counters a counter's name to its count. Only the
// names the driver listed are present: Spark 3.x lacks numberDecommissioningExecutors, and a
// driver without dynamic allocation registers no such source at all.
type AllocationMetrics struct {
	// Prefix is what precedes "driver.ExecutorAllocationManager." in the registry keys:
	// spark.metrics.namespace if set, else the application id (without the trailing dot).
	Prefix   string
	Gauges   map[string]float64
	Counters map[string]float64
}

// ErrNoAllocationMetrics is returned (wrapped in an *Error with ReasonDecode) when a registry
// has no ExecutorAllocationManager metric under the wanted prefix.
var ErrNoAllocationMetrics = errors.New("no ExecutorAllocationManager metrics in the registry")

// GetAllocationMetrics reads base + MetricsJSONPath and returns its ExecutorAllocationManager
// metrics. prefix is the namespace the keys should carry (spark.metrics.namespace, or the
// application id when that is unset); keys under another prefix are ignored unless the registry
// holds that source under exactly one prefix (a namespace this caller could not resolve, such as
// one with ${…} references), which is then taken. A registry without the source is an error
// (ReasonDecode wrapping ErrNoAllocationMetrics), as is a body that is not the Dropwizard JSON
// shape.
func (c *Client) GetAllocationMetrics(ctx context.Context, base *url.URL, prefix string) (*AllocationMetrics, error) {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + MetricsJSONPath
	u.RawPath, u.RawQuery = "", ""
	rawURL := u.String()
	var out *AllocationMetrics
	err := c.fetch(ctx, rawURL, &smallBodies, func(body []byte) error {
		var err error
		out, err = ParseAllocationMetrics(body, prefix)
		return err
	})
	return out, err
}

// ParseAllocationMetrics picks the ExecutorAllocationManager metrics out of a Dropwizard JSON
// registry dump ({"gauges": {key: {"value": v}}, "counters": {key: {"count": n}}, …}); see
// GetAllocationMetrics for prefix. Other metrics are skipped without being decoded.
func ParseAllocationMetrics(body []byte, prefix string) (*AllocationMetrics, error) {
	byPrefix := map[string]*AllocationMetrics{}
	get := func(p string) *AllocationMetrics {
		m := byPrefix[p]
		if m == nil {
			m = &AllocationMetrics{Prefix: p, Gauges: map[string]float64{}, Counters: map[string]float64{}}
			byPrefix[p] = m
		}
		return m
	}
	section := func(v []byte, field string, into func(*AllocationMetrics) map[string]float64) error {
		if string(v) == "null" {
			return nil
		}
		s := &skimmer{b: v}
		return s.object(func(key, entry []byte) error {
			p, name, ok := splitEAMKey(key)
			if !ok {
				return nil
			}
			n, found, err := numberField(entry, field)
			if err != nil || !found {
				return err
			}
			into(get(p))[name] = n
			return nil
		})
	}
	s := &skimmer{b: body}
	err := s.object(func(key, v []byte) error {
		switch string(key) {
		case "gauges":
			return section(v, "value", func(m *AllocationMetrics) map[string]float64 { return m.Gauges })
		case "counters":
			return section(v, "count", func(m *AllocationMetrics) map[string]float64 { return m.Counters })
		}
		return nil
	})
	if err == nil && s.peek() != 0 {
		err = fmt.Errorf("%w: data after the object at offset %d", errSyntax, s.i)
	}
	if err != nil {
		return nil, fmt.Errorf("metrics registry: %w", err)
	}
	if m, ok := byPrefix[prefix]; ok {
		return m, nil
	}
	if len(byPrefix) == 1 {
		for _, m := range byPrefix {
			return m, nil
		}
	}
	if len(byPrefix) == 0 {
		return nil, ErrNoAllocationMetrics
	}
	return nil, fmt.Errorf("%w under %q (found under %d other prefixes)", ErrNoAllocationMetrics, prefix, len(byPrefix))
}

// splitEAMKey splits "<prefix>.driver.ExecutorAllocationManager.executors.<name>" into prefix
// and name. A key without a prefix ("driver.…", a driver with neither a namespace nor an
// application id) has prefix "".
func splitEAMKey(key []byte) (prefix, name string, ok bool) {
	i := bytes.Index(key, eamSourceBytes)
	if i < 0 || (i > 0 && key[i-1] != '.') {
		return "", "", false
	}
	rest := key[i+len(eamSource):]
	if len(rest) == 0 || bytes.IndexByte(rest, '.') >= 0 {
		return "", "", false
	}
	if i > 0 {
		prefix = string(key[:i-1])
	}
	return prefix, string(rest), true
}

// numberField reads the number of field in a metric's object ({"value": 3}); found is false
// when the field is absent or null (a gauge whose supplier failed), and a non-number is an error.
func numberField(entry []byte, field string) (float64, bool, error) {
	var n float64
	var found bool
	s := &skimmer{b: entry}
	err := s.object(func(key, v []byte) error {
		if string(key) != field || string(v) == "null" {
			return nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return fmt.Errorf("%w: want a number", errSyntax)
		}
		n, found = f, true
		return nil
	})
	return n, found, err
}
