package sparkapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// An error status keeps what the body said, in one line: Spark's one line of text, and a body
// over several lines (in an e2e run a starting Spark 3.5.9 UI answered /api/v1/applications with
// a 404 whose first line was "{", and the log showed nothing more).
func TestErrorBodyInMessage(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"unknown app: app-1\n", "unknown app: app-1"},
		{"{\n  \"message\" : \"no such app\"\n}\n", `{ "message" : "no such app" }`},
		{"", "empty body"},
		{strings.Repeat("x", 300), strings.Repeat("x", 200) + "…"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(tc.body))
		}))
		base, _ := url.Parse(srv.URL)
		c := &Client{HTTP: srv.Client(), MaxBodyBytes: 1 << 20}
		var v []ApplicationInfo
		err := c.Get(context.Background(), base, "/applications", nil, &v)
		srv.Close()
		if ReasonOf(err) != ReasonNotFound || !strings.HasSuffix(err.Error(), ": "+tc.want) {
			t.Errorf("body %q: got %v, want not_found ending in %q", tc.body, err, tc.want)
		}
	}
}

// A starting Spark UI answers every path with 200 and a line of text (recorded from Spark 3.5.9 in
// make e2e-spark35); that is not a decode failure.
func TestStartingUI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		_, _ = w.Write([]byte("Spark is starting up. Please wait a while until it's ready."))
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	c := &Client{HTTP: srv.Client(), MaxBodyBytes: 1 << 20}
	var v []ApplicationInfo
	err := c.Get(context.Background(), base, "/applications", nil, &v)
	if ReasonOf(err) != ReasonStarting || !strings.Contains(err.Error(), "Spark is starting up.") {
		t.Errorf("got %v, want reason starting", err)
	}
}
