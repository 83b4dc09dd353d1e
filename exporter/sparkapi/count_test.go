package sparkapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCountObjects(t *testing.T) {
	for body, want := range map[string]int{
		`[]`: 0, ` [ ] `: 0, `[{}]`: 1, `[{"a":"}]{[\"x"},{"b":[1,{"c":2}]}]`: 2,
		"[\n  {\"s\" : \"\\\\\"} ,\n  {}\n]\n": 2,
	} {
		n, err := countObjects(bufio.NewReaderSize(strings.NewReader(body), 16))
		if err != nil || n != want {
			t.Errorf("%q: %d, %v; want %d", body, n, err, want)
		}
	}
	for _, body := range []string{``, `{}`, `[1]`, `["a"]`, `[{}`, `[{"a":"]`, `[{}] x`, `[{}]]`, `[[]]`, `[{}}]`} {
		if n, err := countObjects(bufio.NewReaderSize(strings.NewReader(body), 16)); err == nil {
			t.Errorf("%q: counted %d, want an error", body, n)
		}
	}
}

// On Spark's own stage list, the count is encoding/json's length, also through a small buffer.
func TestCountListSparkFixture(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("..", "testdata", "spark", "stage_list_json_expectation.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []map[string]any
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatal(err)
	}
	n, err := countObjects(bufio.NewReaderSize(strings.NewReader(string(body)), 16))
	if err != nil || n != len(all) || n == 0 {
		t.Fatalf("counted %d (%v), want %d", n, err, len(all))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("status") == "complete" {
			_, _ = w.Write(body)
			return
		}
		http.Error(w, "unknown app: x", http.StatusNotFound)
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	c := &Client{HTTP: srv.Client(), MaxBodyBytes: 1 << 20}
	if got, err := c.CountList(context.Background(), base, "/applications/x/stages", url.Values{"status": {"complete"}}); err != nil || got != len(all) {
		t.Errorf("CountList: %d, %v", got, err)
	}
	if _, err := c.CountList(context.Background(), base, "/applications/x/stages", nil); ReasonOf(err) != ReasonNotFound {
		t.Errorf("404: %v", err)
	}
	small := &Client{HTTP: srv.Client(), MaxBodyBytes: 1024}
	if _, err := small.CountList(context.Background(), base, "/applications/x/stages", url.Values{"status": {"complete"}}); ReasonOf(err) != ReasonTooLarge {
		t.Errorf("over the cap: %v", err)
	}
}
