package manifests

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/sparkdra/sparkdra/scaler"
)

// sparkApplication is the part of a kubeflow spark-operator v1beta2 SparkApplication that
// decides Spark's DRA. The examples are decoded strictly into the operator's own types, and
// checked against its CRD schema, in the nested module e2e/operator (make operator-examples).
type sparkApplication struct {
	Spec struct {
		DynamicAllocation *struct {
			Enabled                bool   `json:"enabled"`
			InitialExecutors       *int32 `json:"initialExecutors"`
			MinExecutors           *int32 `json:"minExecutors"`
			MaxExecutors           *int32 `json:"maxExecutors"`
			ShuffleTrackingEnabled *bool  `json:"shuffleTrackingEnabled"`
			ShuffleTrackingTimeout *int64 `json:"shuffleTrackingTimeout"`
		} `json:"dynamicAllocation"`
		SparkConf map[string]string `json:"sparkConf"`
		Executor  struct {
			Cores *int32 `json:"cores"`
		} `json:"executor"`
	} `json:"spec"`
}

// sparkProperties are the Spark properties the operator submits for the application's DRA
// (spec.dynamicAllocation → spark.dynamicAllocation.*, shuffleTrackingTimeout in milliseconds;
// spec.executor.cores → spark.executor.cores; then spec.sparkConf).
func (a *sparkApplication) sparkProperties() map[string]string {
	p := map[string]string{}
	itoa := func(v int32) string { return strconv.Itoa(int(v)) }
	if da := a.Spec.DynamicAllocation; da != nil {
		p[scaler.KeyEnabled] = strconv.FormatBool(da.Enabled)
		if da.InitialExecutors != nil {
			p[scaler.KeyInitialExecutors] = itoa(*da.InitialExecutors)
		}
		if da.MinExecutors != nil {
			p[scaler.KeyMinExecutors] = itoa(*da.MinExecutors)
		}
		if da.MaxExecutors != nil {
			p[scaler.KeyMaxExecutors] = itoa(*da.MaxExecutors)
		}
		if da.ShuffleTrackingEnabled != nil {
			p[scaler.KeyShuffleTrackingEnabled] = strconv.FormatBool(*da.ShuffleTrackingEnabled)
		}
		if da.ShuffleTrackingTimeout != nil {
			p[scaler.KeyShuffleTrackingTimeout] = strconv.FormatInt(*da.ShuffleTrackingTimeout, 10)
		}
	}
	if c := a.Spec.Executor.Cores; c != nil {
		p[scaler.KeyExecutorCores] = itoa(*c)
	}
	for k, v := range a.Spec.SparkConf {
		p[k] = v
	}
	return p
}

func readSparkApplication(t *testing.T, file string) *sparkApplication {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("examples", "spark-operator", file))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("\n---\n")) {
		t.Fatalf("%s: one SparkApplication per file", file)
	}
	var a sparkApplication
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return &a
}

// What each SparkApplication example does to DRA, read with the exporter's own rules
// (scaler.ParseConfig; design.md, "What an executor holds"): PageRank pins executors with shuffle
// output on purpose (tracking, no shuffle service) and Spark accepts it; the Celeborn variant is
// valid without tracking (Celeborn's ShuffleDataIO reports reliable storage) and pins nothing
// needlessly; turning tracking back on there raises Spark's warning — the needless pinning
// SparkDRANeedlessShufflePinning is about.
func TestSparkOperatorExamplesDRA(t *testing.T) {
	parse := func(name string, a *sparkApplication) scaler.Config {
		t.Helper()
		cfg, err := scaler.ParseConfig(a.sparkProperties())
		if err != nil {
			t.Fatalf("%s: Spark would reject it: %v", name, err)
		}
		return cfg
	}
	pr := parse("pagerank", readSparkApplication(t, "pagerank.yaml"))
	if !pr.Enabled || !pr.ShuffleTracking() || pr.NeedlessShufflePinning() || len(pr.Warnings()) != 0 {
		t.Errorf("pagerank: enabled %v tracking %v needless %v warnings %v", pr.Enabled, pr.ShuffleTracking(),
			pr.NeedlessShufflePinning(), pr.Warnings())
	}
	celeborn := readSparkApplication(t, "pagerank-celeborn.yaml")
	cb := parse("pagerank-celeborn", celeborn)
	if !cb.Enabled || cb.ShuffleTracking() || !cb.ReliableShuffleStorage || cb.NeedlessShufflePinning() || len(cb.Warnings()) != 0 {
		t.Errorf("pagerank-celeborn: enabled %v tracking %v reliable %v needless %v warnings %v", cb.Enabled,
			cb.ShuffleTracking(), cb.ReliableShuffleStorage, cb.NeedlessShufflePinning(), cb.Warnings())
	}
	on := true
	celeborn.Spec.DynamicAllocation.ShuffleTrackingEnabled = &on
	ws := parse("pagerank-celeborn with tracking on", celeborn)
	if w := ws.Warnings(); !ws.NeedlessShufflePinning() || len(w) != 1 || w[0].Reason != scaler.WarningTrackingWithOtherMechanism {
		t.Errorf("pagerank-celeborn with tracking on: needless %v warnings %v", ws.NeedlessShufflePinning(), w)
	}
}
