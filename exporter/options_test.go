package exporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sparkdra/sparkdra/exporter/internal/sparkfake"
)

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).Validate(); err == nil {
		t.Error("empty options accepted")
	}
	o := DefaultOptions()
	o.DriverURLs = []string{"http://driver:4040"}
	if err := o.Validate(); err != nil {
		t.Errorf("defaults with a driver: %v", err)
	}
	bad := DefaultOptions()
	bad.DriverURLs = []string{"driver:4040"}
	bad.StandaloneMasters = []string{"spark://master:7077"}
	bad.PollInterval = 0
	bad.RequestTimeout = -time.Second
	bad.MaxConcurrentPolls = 0
	bad.MaxBodyBytes = 10
	bad.Username, bad.BearerTokenFile = "u", "/nonexistent/token"
	bad.TelemetryPath = "/healthz"
	bad.Kubernetes, bad.LabelSelector = true, "spark-role in (("
	want := []string{
		`driver URL "driver:4040": want http(s)://host:port[/prefix]`,
		`standalone master URL "spark://master:7077": want http(s)://host:port of the master UI`,
		`--web.telemetry-path "/healthz": must start with / and not be /, /healthz or /readyz`,
		`--spark.poll-interval 0s: must be > 0`,
		`--spark.request-timeout -1s: must be > 0`,
		`--spark.max-concurrent-polls 0: must be >= 1`,
		`--spark.max-body-bytes 10: must be >= 1024`,
		`--spark.auth.bearer-token-file and --spark.auth.username: choose one`,
		`--spark.auth.bearer-token-file: stat /nonexistent/token: no such file or directory`,
		`--kubernetes.label-selector "spark-role in ((":`,
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad options accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("problem %d: %q, want prefix %q", i, lines[i], w)
		}
	}
}

// The standalone discoverer lists the master's running applications and polls them through the
// master's reverse proxy, /proxy/<appId>/api/v1.
func TestStandaloneDiscovery(t *testing.T) {
	app := sparkfake.Generate(3, 2, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/json/", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"url":"spark://m:7077","status":"ALIVE","activeapps":[
			{"id":"` + app.AppID + `","name":"etl-3","state":"RUNNING"},{"id":"app-waiting","name":"w","state":"WAITING"}],
			"completedapps":[{"id":"app-old","state":"FINISHED"}]}`))
	})
	mux.Handle("/proxy/"+app.AppID+"/", http.StripPrefix("/proxy/"+app.AppID, app))
	master := httptest.NewServer(mux)
	defer master.Close()
	masters, err := ParseMasterURLs([]string{master.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan TargetUpdate)
	go StandaloneDiscoverer{Masters: masters, Client: testClient(), Interval: time.Hour, Timeout: time.Second,
		Logger: discardLogger()}.Run(ctx, ch)
	var u TargetUpdate
	select {
	case u = <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no update")
	}
	if len(u.Targets) != 1 || u.Targets[0].AppID != app.AppID {
		t.Fatalf("targets %+v", u.Targets)
	}
	d := newDriver(u.Targets[0])
	snap, err := d.poll(ctx, pollDeps{client: testClient(), timeout: time.Second, now: newFakeClock().Now})
	if err != nil || !snap.Up || snap.AppName != "etl-3" || snap.App.PendingTasks != 65 {
		t.Fatalf("poll through the proxy: %v %+v", err, snap)
	}
}
