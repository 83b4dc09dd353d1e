package externalscaler

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/externalscaler/kedasim"
)

func mustRules(t testing.TB, raw ...string) AddressRules {
	t.Helper()
	var rs AddressRules
	for _, s := range raw {
		r, err := ParseAddressRule(s)
		if err != nil {
			t.Fatalf("rule %q: %v", s, err)
		}
		rs = append(rs, r)
	}
	return rs
}

func TestAddressRules(t *testing.T) {
	rs := mustRules(t, "https://Mimir.monitoring.svc/prometheus/", "http://thanos:9090")
	for addr, want := range map[string]bool{
		"https://mimir.monitoring.svc/prometheus":            true,
		"https://mimir.monitoring.svc:443/prometheus/":       true,
		"https://MIMIR.monitoring.svc/prometheus/tenant-a":   true,
		"https://mimir.monitoring.svc/prometheus-other":      false,
		"https://mimir.monitoring.svc/prometheus/../admin":   false,
		"https://mimir.monitoring.svc/prometheus/%2e%2e/api": false,
		"http://mimir.monitoring.svc/prometheus":             false, // scheme
		"https://mimir.monitoring.svc:8443/prometheus":       false, // port
		"https://mimir.monitoring.svc.evil/prometheus":       false,
		"http://thanos:9090":                                 true,
		"http://thanos:9090/api/v1/query":                    true,
		"http://thanos":                                      false, // port 80
		"http://user:pw@thanos:9090":                         false, // user info
		"http://10.0.0.1:9090":                               false,
		"http://169.254.169.254/latest/meta-data":            false,
	} {
		if err := rs.Check(addr); (err == nil) != want {
			t.Errorf("%s: allowed=%v, want %v (%v)", addr, err == nil, want, err)
		}
	}
	for _, bad := range []string{"thanos:9090", "ftp://x", "http://u:p@x", "http://x/?q=1", "http://x/#f", ""} {
		if _, err := ParseAddressRule(bad); err == nil {
			t.Errorf("rule %q accepted", bad)
		}
	}
}

// None refuses everything; a refusal names the rules it was checked against.
func TestAddressRulesRefusalNamesTheRule(t *testing.T) {
	if err := AddressRules(nil).Check("http://thanos:9090"); err == nil || !strings.Contains(err.Error(), "no --prometheus.allowed-address") {
		t.Errorf("no rules: %v", err)
	}
	err := mustRules(t, "http://a:9090", "http://b:9090").Check("http://c:9090")
	if err == nil || !strings.Contains(err.Error(), "--prometheus.allowed-address (http://a:9090, http://b:9090)") {
		t.Errorf("got %v", err)
	}
}

// A disallowed prometheusAddress is an invalid ScaledObject whose error names
// the ScaledObject and the rule; its source is never built.
func TestDisallowedAddressIsInvalid(t *testing.T) {
	for name, tc := range map[string]struct {
		rules AddressRules
		want  string
	}{
		"no rules":   {nil, "no --prometheus.allowed-address"},
		"no match":   {mustRules(t, "http://thanos:9090"), "matches no --prometheus.allowed-address (http://thanos:9090)"},
		"user info":  {mustRules(t, "http://thanos:9090"), "user info"},
		"other port": {mustRules(t, "http://thanos:9090"), "matches no"},
	} {
		t.Run(name, func(t *testing.T) {
			addr := map[string]string{"user info": "http://u:p@thanos:9090", "other port": "http://thanos:9091"}[name]
			if addr == "" {
				addr = "http://kube-apiserver.default.svc:443"
			}
			s := newTestServer(t, &fakeSource{}, &kedasim.FakeClock{T: t0}, Options{AllowedAddresses: tc.rules,
				SourceFor: func(a string) (Source, error) { t.Errorf("source built for %s", a); return nil, errors.New("no") }})
			_, err := s.lookup(ref("etl", meta("prometheusAddress", addr)))
			var ite *InvalidTriggerError
			if !errors.As(err, &ite) {
				t.Fatalf("got %v, want an InvalidTriggerError", err)
			}
			for _, w := range []string{"ScaledObject spark/etl", "prometheusAddress", tc.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			s.Tick(t.Context(), t0)
			if len(s.Decisions()) != 0 {
				t.Errorf("invalid ScaledObject tracked")
			}
		})
	}
}

// A source is dropped when no ScaledObject uses its address any more, and
// built again when one does.
func TestSourcesPruned(t *testing.T) {
	clock := &kedasim.FakeClock{T: t0}
	built := map[string]int{}
	s := newTestServer(t, &fakeSource{}, clock, Options{ForgetAfter: time.Minute,
		AllowedAddresses: mustRules(t, "http://thanos:9090", "http://mimir:8080"),
		SourceFor: func(addr string) (Source, error) {
			built[addr]++
			src := &fakeSource{}
			src.set(backlogged())
			return src, nil
		}})
	look := func(name, addr string) {
		t.Helper()
		if _, err := s.lookup(ref(name, meta("prometheusAddress", addr))); err != nil {
			t.Fatal(err)
		}
	}
	look("a", "http://thanos:9090")
	s.Tick(t.Context(), clock.Now())
	if len(s.sources) != 1 {
		t.Fatalf("sources %v", s.sources)
	}
	// a moves to mimir: thanos' source goes.
	look("a", "http://mimir:8080")
	s.Tick(t.Context(), clock.Advance(time.Second))
	if _, ok := s.sources["http://thanos:9090"]; ok || len(s.sources) != 1 {
		t.Errorf("after the address change: sources %v", s.sources)
	}
	// a is forgotten: no source is left.
	s.Tick(t.Context(), clock.Advance(2*time.Minute))
	if len(s.sources) != 0 {
		t.Errorf("after ForgetAfter: sources %v", s.sources)
	}
	look("a", "http://thanos:9090")
	s.Tick(t.Context(), clock.Now())
	if built["http://thanos:9090"] != 2 || built["http://mimir:8080"] != 1 {
		t.Errorf("sources built %v, want thanos 2, mimir 1", built)
	}
}

type countingRT struct{ n int }

func (c *countingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
}

// The transport of per-ScaledObject sources sends only to allowed URLs, so a
// redirect cannot lead it elsewhere.
func TestRulesTransport(t *testing.T) {
	next := &countingRT{}
	rt := mustRules(t, "http://thanos:9090").Transport(next)
	for u, ok := range map[string]bool{
		"http://thanos:9090/api/v1/query":   true,
		"http://10.0.0.1:9090/api/v1/query": false,
	} {
		req := &http.Request{Method: "GET", URL: must(url.Parse(u)), Header: http.Header{}}
		_, err := rt.RoundTrip(req)
		if (err == nil) != ok {
			t.Errorf("%s: err %v", u, err)
		}
	}
	if next.n != 1 {
		t.Errorf("%d requests sent, want 1", next.n)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
