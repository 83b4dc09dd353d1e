// Package contracts reads the metric tables of docs/contracts.md, so that
// tests compare what the code publishes and reads with the contract instead
// of repeating the names by hand.
package contracts

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// Headings of the metric tables in docs/contracts.md, as prefixes of the
// heading line.
const (
	ExporterMetrics = "## 1. "                    // exporter metrics the other rooms read
	ExporterSelf    = "### Exporter self-metrics" // the exporter's view of its own polling
	ScalerSelf      = "## 2. "                    // spark-dra-scaler's /metrics
	OtherSeries     = "## 5. "                    // series of other exporters the dashboards and alerts read
)

// Metric is one name from a table row.
type Metric struct {
	// Name is the metric name as written (a histogram's base name).
	Name string
	// Type is the first word of the row's type column: gauge, counter or
	// histogram.
	Type string
	// Section is the heading the table sits under.
	Section string
}

// Series returns the names a query may use for m: the name itself, or a
// histogram's _bucket, _sum and _count series.
func (m Metric) Series() []string {
	if m.Type == "histogram" {
		return []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}

var (
	nameRE = regexp.MustCompile("`([a-zA-Z_:][a-zA-Z0-9_:]*)`")
	typeRE = regexp.MustCompile(`^[a-z]+`)
)

// Parse reads every metric table of a contracts document: rows under a
// "| metric | type |" header, one Metric per backticked name in the first
// column.
func Parse(r io.Reader) ([]Metric, error) {
	var out []Metric
	section, inTable := "", false
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			section, inTable = line, false
			continue
		case !strings.HasPrefix(line, "|"):
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		switch {
		case len(cells) >= 2 && cells[0] == "metric" && cells[1] == "type":
			inTable = true
			continue
		case !inTable || strings.HasPrefix(cells[0], "---"):
			continue
		}
		names := nameRE.FindAllStringSubmatch(cells[0], -1)
		typ := typeRE.FindString(cells[1])
		if len(names) == 0 || typ == "" {
			return nil, fmt.Errorf("line %d: a metric row without a backticked name or a type: %s", n, line)
		}
		for _, m := range names {
			out = append(out, Metric{Name: m[1], Type: typ, Section: section})
		}
	}
	return out, sc.Err()
}

// Load parses the contracts document at path.
func Load(path string) ([]Metric, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// In returns the metrics of the section whose heading starts with heading.
func In(ms []Metric, heading string) []Metric {
	var out []Metric
	for _, m := range ms {
		if strings.HasPrefix(m.Section, heading) {
			out = append(out, m)
		}
	}
	return out
}

// Same compares the metrics a section documents with those the code has
// (name → type) and returns one line per difference: a documented metric
// missing or of another type, and a metric the section does not list.
func Same(documented []Metric, have map[string]string) []string {
	var diffs []string
	listed := map[string]bool{}
	for _, m := range documented {
		listed[m.Name] = true
		switch typ, ok := have[m.Name]; {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s (%s) is documented but not in the code", m.Name, m.Type))
		case typ != m.Type:
			diffs = append(diffs, fmt.Sprintf("%s is documented as a %s but is a %s", m.Name, m.Type, typ))
		}
	}
	for name := range have {
		if !listed[name] {
			diffs = append(diffs, fmt.Sprintf("%s is not documented", name))
		}
	}
	slices.Sort(diffs)
	return diffs
}
