package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"
	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func defaults() options {
	return options{GRPCListen: ":9090", WebListen: []string{":8080"}, PrometheusTO: 10 * time.Second,
		Tick: time.Second, Staleness: time.Minute, ForgetAfter: 10 * time.Minute}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		edit func(*options)
		want []string
	}{
		"defaults":     {func(*options) {}, nil},
		"two sources":  {func(o *options) { o.PrometheusURL, o.ExporterURL = "http://p:9090", "http://e:9141/metrics" }, []string{"exclude each other"}},
		"relative url": {func(o *options) { o.PrometheusURL = "prometheus:9090" }, []string{`--prometheus.url "prometheus:9090"`}},
		"zero tick":    {func(o *options) { o.Tick = 0 }, []string{"--scaler.tick (0s) must be > 0"}},
		"allowed address with credentials": {func(o *options) { o.AllowedAddrs = []string{"http://u:p@thanos:9090"} },
			[]string{`--prometheus.allowed-address "http://u:p@thanos:9090": user info is not allowed`}},
		"staleness < tick": {func(o *options) { o.Staleness = 500 * time.Millisecond }, []string{"--scaler.staleness (500ms) must be at least --scaler.tick (1s)"}},
		"every problem": {func(o *options) {
			o.GRPCListen, o.TLSKeyFile, o.TLSClientCAFile = "", "k.pem", "ca.pem"
		}, []string{"--grpc.listen-address is required", "go together", "--grpc.tls-client-ca-file needs"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := defaults()
			c.edit(&o)
			err := o.validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServe starts the scaler on loopback (an exporter that is not there
// as its source) and talks to it like KEDA and a person would.
func TestServe(t *testing.T) {
	o := defaults()
	o.GRPCListen, o.WebListen = freeAddr(t), []string{freeAddr(t)}
	o.ExporterURL = "http://127.0.0.1:1/metrics"
	o.MarkVictims = false
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, o, slog.New(slog.DiscardHandler)) }()

	conn, err := grpc.NewClient(o.GRPCListen, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewExternalScalerClient(conn)
	callCtx, callCancel := context.WithTimeout(ctx, 30*time.Second)
	defer callCancel()
	spec, err := client.GetMetricSpec(callCtx, &pb.ScaledObjectRef{Name: "w", Namespace: "spark",
		ScalerMetadata: map[string]string{"selector": `app_name="etl"`, "executorsPerReplica": "2"}}, grpc.WaitForReady(true))
	if err != nil {
		t.Fatal(err)
	}
	if ms := spec.MetricSpecs[0]; ms.MetricName != "spark-dra-executors" || ms.TargetSizeFloat != 2 {
		t.Errorf("spec %v", ms)
	}
	resp, err := http.Get("http://" + o.WebListen[0] + "/decisions")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(strings.TrimSpace(string(body)), "[") {
		t.Errorf("/decisions: %d %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
}

func TestBoolFlagValues(t *testing.T) {
	// The manifests write --victims.mark=true; kingpin wants --victims.mark.
	for _, c := range []struct{ in, want string }{
		{"--victims.mark=true", "--victims.mark"}, {"--victims.mark=false", "--no-victims.mark"},
		{"--scaler.tick=2s", "--scaler.tick=2s"}, {"--victims.mark", "--victims.mark"},
	} {
		var o options
		app := kingpin.New("x", "")
		app.Flag("victims.mark", "").BoolVar(&o.MarkVictims)
		app.Flag("scaler.tick", "").DurationVar(&o.Tick)
		if got := boolFlagValues(app, []string{c.in})[0]; got != c.want {
			t.Errorf("%s → %s, want %s", c.in, got, c.want)
		}
	}
}

// TestPrometheusHTTPConfig: the http_config file's headers and basic auth
// reach Prometheus.
func TestPrometheusHTTPConfig(t *testing.T) {
	got := make(chan *http.Request, 1)
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	defer prom.Close()
	file := filepath.Join(t.TempDir(), "http.yml")
	if err := os.WriteFile(file, []byte("basic_auth: {username: u, password: p}\nhttp_headers: {X-Scope-OrgID: {values: [tenant-1]}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rt, err := prometheusTransport(file, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c, err := api.NewClient(api.Config{Address: prom.URL, RoundTripper: rt})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := promv1.NewAPI(c).Query(t.Context(), "up", time.Unix(1_500_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if user, pass, ok := r.BasicAuth(); !ok || user != "u" || pass != "p" || r.Header.Get("X-Scope-OrgID") != "tenant-1" {
		t.Errorf("request auth %q %q %v, tenant %q", user, pass, ok, r.Header.Get("X-Scope-OrgID"))
	}
	if _, err := prometheusTransport(filepath.Join(t.TempDir(), "missing.yml"), time.Second); err == nil {
		t.Error("a missing file: want an error")
	}
}

// The flags carry their group, like the exporter's: the old ungrouped names are refused.
func TestFlagNames(t *testing.T) {
	var o options
	app := newApp(&o)
	if _, err := app.Parse([]string{"--scaler.tick=2s", "--scaler.staleness=30s", "--scaler.forget-after=5m",
		"--kubernetes.kubeconfig=/k"}); err != nil {
		t.Fatal(err)
	}
	if o.Tick != 2*time.Second || o.Staleness != 30*time.Second || o.ForgetAfter != 5*time.Minute || o.KubeConfig != "/k" {
		t.Errorf("flags not applied: %+v", o)
	}
	for _, old := range []string{"--tick=2s", "--staleness=30s", "--forget-after=5m", "--kubeconfig=/k"} {
		if _, err := newApp(&options{}).Parse([]string{old}); err == nil {
			t.Errorf("%s accepted", old)
		}
	}
	for _, f := range app.Model().Flags {
		if !f.Hidden && f.Name != "help" && !strings.Contains(f.Name, ".") {
			t.Errorf("flag --%s has no group", f.Name)
		}
	}
}

// recorder is a Prometheus HTTP API stand-in (empty answers) that keeps every
// request's headers.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []http.Header
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, r.Header.Clone())
		rec.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// A ScaledObject's prometheusAddress never receives the scaler's own
// Prometheus credentials (--prometheus.http-config-file applies to
// --prometheus.url only); an address no --prometheus.allowed-address allows
// is an invalid ScaledObject and is never queried, not even by a redirect
// from an allowed one. The wiring is main's own (newServer).
func TestScaledObjectAddressGetsNoCredentials(t *testing.T) {
	for name, cfg := range map[string]string{
		"basic auth and tenant header": "basic_auth: {username: scaler, password: s3cret}\nhttp_headers: {X-Scope-OrgID: {values: [tenant-1]}}\n",
		"bearer token":                 "authorization: {type: Bearer, credentials: t0ken}\n",
	} {
		t.Run(name, func(t *testing.T) {
			def := newRecorder(t, nil)       // --prometheus.url
			allowed := newRecorder(t, nil)   // a ScaledObject's prometheusAddress, allowed
			forbidden := newRecorder(t, nil) // another one, allowed by no rule
			redirector := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, forbidden.URL+r.URL.Path, http.StatusFound) // allowed, but sends the scaler on
			})
			file := filepath.Join(t.TempDir(), "http.yml")
			if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			o := defaults()
			o.PrometheusURL, o.PrometheusCfg = def.URL, file
			o.AllowedAddrs = []string{allowed.URL, redirector.URL + "/"}
			srv, err := newServer(o, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			spec := func(name, addr string) error {
				m := map[string]string{"scalerAddress": "x:9090", "selector": `app_name="etl"`}
				if addr != "" {
					m["prometheusAddress"] = addr
				}
				_, err := srv.GetMetricSpec(t.Context(), &pb.ScaledObjectRef{Namespace: "spark", Name: name, ScalerMetadata: m})
				return err
			}
			for so, addr := range map[string]string{"uses-default": "", "uses-allowed": allowed.URL, "uses-redirector": redirector.URL} {
				if err := spec(so, addr); err != nil {
					t.Fatalf("%s: %v", so, err)
				}
			}
			err = spec("uses-forbidden", forbidden.URL)
			if status.Code(err) != codes.InvalidArgument {
				t.Fatalf("forbidden address: %v, want InvalidArgument", err)
			}
			for _, w := range []string{"ScaledObject spark/uses-forbidden", "prometheusAddress", "--prometheus.allowed-address (" + allowed.URL} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			srv.Tick(t.Context(), time.Now())

			credentialed := func(h http.Header) bool {
				return h.Get("Authorization") != "" || h.Get("X-Scope-OrgID") != ""
			}
			// The control: the default source does carry them, so the check below can fail.
			if rs := def.requests(); len(rs) == 0 || !credentialed(rs[0]) {
				t.Fatalf("--prometheus.url: %d requests, first %v; want credentials", len(rs), rs)
			}
			for who, r := range map[string]*recorder{"allowed": allowed, "redirector": redirector} {
				rs := r.requests()
				if len(rs) == 0 {
					t.Errorf("%s address never queried", who)
				}
				for _, h := range rs {
					if credentialed(h) {
						t.Errorf("%s address received credentials: %v", who, h)
					}
				}
			}
			if n := len(forbidden.requests()); n != 0 {
				t.Errorf("the forbidden address received %d requests", n)
			}
		})
	}
}
