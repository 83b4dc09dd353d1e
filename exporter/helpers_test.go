package exporter

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// t0 is the fake clock's start in every test.
var t0 = time.Unix(1_700_000_000, 0).UTC()

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time       { return c.now }
func (c *fakeClock) Step(d time.Duration) { c.now = c.now.Add(d) }
func newFakeClock() *fakeClock            { return &fakeClock{now: t0} }

// fixtureDriver serves files of testdata/spark at their real REST paths, filtering list
// payloads by ?status= the way Spark does (case-insensitive).
type fixtureDriver struct {
	t     *testing.T
	files map[string]string // path under /api/v1 → file name
}

func (f fixtureDriver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := f.files[strings.TrimPrefix(r.URL.Path, "/api/v1")]
	if !ok {
		http.Error(w, "no such app: "+r.URL.Path, http.StatusNotFound)
		return
	}
	b, err := os.ReadFile(filepath.Join("testdata", "spark", name))
	if err != nil {
		f.t.Errorf("fixture: %v", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if statuses := r.URL.Query()["status"]; len(statuses) > 0 {
		b = filterStatus(f.t, b, statuses)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func filterStatus(t *testing.T, b []byte, statuses []string) []byte {
	var items []map[string]any
	if err := jsonUnmarshal(b, &items); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	out := []map[string]any{}
	for _, it := range items {
		s, _ := it["status"].(string)
		for _, want := range statuses {
			if strings.EqualFold(s, want) {
				out = append(out, it)
			}
		}
	}
	return jsonMarshal(t, out)
}

func testClient() *sparkapi.Client {
	return &sparkapi.Client{HTTP: &http.Client{}, MaxBodyBytes: 1 << 20}
}

// staticTarget returns the target of a test server.
func staticTarget(t *testing.T, srv *httptest.Server, path string) Target {
	t.Helper()
	tg, err := ParseDriverURL(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// pollInto polls each driver once and stores the snapshots.
func pollInto(t *testing.T, store *Store, clock *fakeClock, timeout time.Duration, drivers ...*driver) {
	t.Helper()
	deps := pollDeps{client: testClient(), timeout: timeout, now: clock.Now}
	for _, d := range drivers {
		snap, _ := d.poll(context.Background(), deps)
		store.Set(snap)
	}
}

// exposition gathers reg in the text format.
func exposition(t *testing.T, reg prometheus.Gatherer) []byte {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
