//go:build e2e_k8s

package k8se2e

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// Recording holds REST payloads of a live Spark driver recorded by the real-Spark e2e tier
// (e2e/testdata/rest/<job>/samples.jsonl.gz, see e2e/testdata/README.md). The driver stand-in
// serves them as templates: the application entry, the environment, and the shape of an
// active stage and of an executor row, with the counts and hosts the scenario scripts.
type Recording struct {
	Path        string
	Application map[string]any // one element of /applications
	Environment map[string]any // /applications/{id}/environment
	Stage       map[string]any // an ACTIVE element of /stages?status=active
	Executor    map[string]any // a non-driver element of /executors
	Driver      map[string]any // the driver row of /executors
}

// LoadRecording reads the first payload of each kind from a samples.jsonl.gz file.
func LoadRecording(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rec := &Recording{Path: path}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		var s struct {
			Path   string          `json:"path"`
			Status int             `json:"status"`
			Body   json.RawMessage `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if s.Status != 200 || len(s.Body) == 0 {
			continue
		}
		p, _, _ := strings.Cut(s.Path, "?")
		switch {
		case p == "/api/v1/applications" && rec.Application == nil:
			var apps []map[string]any
			if json.Unmarshal(s.Body, &apps) == nil && len(apps) > 0 {
				rec.Application = apps[0]
			}
		case strings.HasSuffix(p, "/environment") && rec.Environment == nil:
			_ = json.Unmarshal(s.Body, &rec.Environment)
		case strings.HasSuffix(p, "/stages") && rec.Stage == nil:
			var st []map[string]any
			if json.Unmarshal(s.Body, &st) == nil {
				for _, x := range st {
					if x["status"] == "ACTIVE" {
						rec.Stage = x
						break
					}
				}
			}
		case strings.HasSuffix(p, "/executors") && (rec.Executor == nil || rec.Driver == nil):
			var ex []map[string]any
			if json.Unmarshal(s.Body, &ex) == nil {
				for _, x := range ex {
					if x["id"] == "driver" && rec.Driver == nil {
						rec.Driver = x
					} else if x["id"] != "driver" && rec.Executor == nil {
						rec.Executor = x
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for name, v := range map[string]map[string]any{"application": rec.Application, "environment": rec.Environment,
		"active stage": rec.Stage, "executor": rec.Executor, "driver row": rec.Driver} {
		if v == nil {
			return nil, fmt.Errorf("%s: no %s payload recorded", path, name)
		}
	}
	return rec, nil
}

// clone deep-copies a JSON object.
func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
