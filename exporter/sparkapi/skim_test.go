package sparkapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func fixtures(t testing.TB) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "spark", "*.json"))
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// The skimmer decodes Spark's own payloads exactly as encoding/json does.
func TestSkimMatchesEncodingJSON(t *testing.T) {
	for _, b := range fixtures(t) {
		compareSkim(t, b)
	}
}

func compareSkim(t *testing.T, b []byte) {
	t.Helper()
	if caseFoldedKeys(b) {
		return // encoding/json matches keys case-insensitively; Spark (Jackson) writes them exactly
	}
	var je []ExecutorSummary
	var fe ExecutorList
	jerr, ferr := json.Unmarshal(b, &je), fe.decodeFast(b)
	if jerr == nil && (ferr != nil || !sameList(ExecutorList(je), fe)) {
		t.Fatalf("executors: skim %v %+v, json %+v", ferr, fe, je)
	}
	if ferr == nil && jerr != nil && json.Valid(b) {
		t.Fatalf("executors: skim accepted what json rejects: %v", jerr)
	}
	var js []StageData
	var fs StageList
	jerr, ferr = json.Unmarshal(b, &js), fs.decodeFast(b)
	if jerr == nil && (ferr != nil || !sameList(StageList(js), fs)) {
		t.Fatalf("stages: skim %v %+v, json %+v", ferr, fs, js)
	}
}

func TestSkimRejects(t *testing.T) {
	for _, b := range []string{``, `<html>`, `{}`, `[`, `[{`, `[{"id":"1"`, `[{"id":"1"}`, `[{"id":"1"},]`, `[{"id" "1"}]`,
		`[{"activeTasks":"x"}]`, `[{"id":"1"}] x`, `[{"addTime":"yesterday"}]`, `[1]`} {
		var l ExecutorList
		if err := l.decodeFast([]byte(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
}

// FuzzSkim: whenever encoding/json decodes an input, the skimmer decodes it to the same value.
func FuzzSkim(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	f.Add([]byte(`[{"id":"a\"b","activeTasks":1e2,"resourceProfileId":null,"isExcluded":true}]`))
	f.Fuzz(func(t *testing.T, b []byte) { compareSkim(t, b) })
}

// sameList treats nil and empty as equal (encoding/json gives [] for "[]", the skimmer nil).
func sameList[T any](a, b []T) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// caseFoldedKeys reports whether a top-level key of some object differs only in case from a
// field name of the models.
func caseFoldedKeys(b []byte) bool {
	var objs []map[string]json.RawMessage
	if json.Unmarshal(b, &objs) != nil {
		return false
	}
	var names []string
	for _, typ := range []reflect.Type{reflect.TypeFor[ExecutorSummary](), reflect.TypeFor[StageData]()} {
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			names = append(names, name)
		}
	}
	for _, o := range objs {
		for k := range o {
			for _, n := range names {
				if k != n && strings.EqualFold(k, n) {
					return true
				}
			}
		}
	}
	return false
}
