package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sparkLog is Spark's own event-log fixture (testdata/spark/SOURCE.md at the repository root).
const sparkLog = "../../testdata/spark/application_1578436911597_0052"

// haveSparkLog fails the test, naming the file, when the fixture is missing.
func haveSparkLog(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(sparkLog); err != nil {
		t.Fatalf("Spark's event-log fixture is part of the repository: %v", err)
	}
}

func TestWhatifJSONHasTheContractKeys(t *testing.T) {
	haveSparkLog(t)
	var out, errb bytes.Buffer
	if code := run([]string{"whatif", "--policy=spark", "--conf", "spark.dynamicAllocation.executorIdleTimeout=30s", "--json", sparkLog}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for _, k := range []string{"makespan_seconds", "executor_seconds", "idle_executor_seconds", "lower_bound_executor_seconds", "critical_path_seconds", "recorded"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, out.String())
		}
	}
	if !strings.Contains(errb.String(), "skipped 2 events of classes the simulator does not use") {
		t.Errorf("stderr %q: want the skip count", errb.String())
	}
}

func TestWhatifTableAndChart(t *testing.T) {
	haveSparkLog(t)
	svg := filepath.Join(t.TempDir(), "c.svg")
	var out, errb bytes.Buffer
	code := run([]string{"whatif", "--policy=static:2", "--policy=spark", "--policy=lean", "--quiet", "--svg", svg, sparkLog}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"recorded", "static:2", "spark", "lean", "makespan_s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.HasPrefix(b, []byte("<svg")) || bytes.Count(b, []byte("<polyline")) != 3 {
		t.Fatalf("chart: %v, %d bytes", err, len(b))
	}
}

func TestReplayPrintsTargetAndExecutors(t *testing.T) {
	haveSparkLog(t)
	svg := filepath.Join(t.TempDir(), "r.svg")
	var out, errb bytes.Buffer
	if code := run([]string{"replay", "--svg", svg, sparkLog}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "target") || strings.Count(out.String(), "\n") < 10 {
		t.Fatalf("%s", out.String())
	}
	// The stage's six tasks make Spark's DRA need 6 executors (its
	// profile has one GPU per executor and per task: one slot), ramping
	// 1, 3, 6; the log's one executor arrives at 106.9 s.
	if !strings.Contains(out.String(), "   106.9       6          6          1             0") {
		t.Errorf("no point at the executor's arrival:\n%s", out.String())
	}
	b, err := os.ReadFile(svg)
	if err != nil || bytes.Count(b, []byte("<polyline")) != 3 {
		t.Fatalf("chart: %v", err)
	}
}

func TestBadUsageAndBadLogs(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("{\"Event\":\"SparkListenerApplicationStart\",\"Timestamp\":1}\n{oops\n{\"Event\":\"SparkListenerApplicationEnd\",\"Timestamp\":2}\n"), 0o644)
	cases := map[string]struct {
		args []string
		code int
		want string
	}{
		"no command":         {nil, 2, "usage:"},
		"whatif w/o policy":  {[]string{"whatif", bad}, 2, "whatif needs --policy"},
		"bad policy":         {[]string{"whatif", "--policy=fast", bad}, 1, `policy "fast": want static:N or one of`},
		"bad conf":           {[]string{"whatif", "--policy=spark", "--conf", "novalue", bad}, 2, `--conf "novalue": want KEY=VALUE`},
		"strict bad line":    {[]string{"whatif", "--strict", "--policy=spark", bad}, 1, "line 2:"},
		"lenient bad line":   {[]string{"whatif", "--quiet", "--policy=static:1", bad}, 0, "skipped 1 malformed lines"},
		"missing file":       {[]string{"replay", filepath.Join(dir, "nope")}, 1, "no such file"},
		"unknown subcommand": {[]string{"frobnicate", bad}, 1, "unknown command"},
		"replay static":      {[]string{"replay", "--policy=static:2", bad}, 1, "not a DRA policy"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errb.String(), c.code, c.want)
			}
		})
	}
}
