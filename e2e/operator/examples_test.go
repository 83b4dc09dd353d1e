package operator

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kubeflow/spark-operator/v2/api/v1beta2"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"sigs.k8s.io/yaml"

	"github.com/sparkdra/sparkdra/scaler"
)

// examplesDir holds the SparkApplication examples users apply.
var examplesDir = filepath.Join("..", "..", "manifests", "examples", "spark-operator")

// sparkApplications reads every SparkApplication document of the examples, as raw YAML.
func sparkApplications(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", examplesDir, err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			var head struct{ Kind string }
			if err := yaml.Unmarshal(doc, &head); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if head.Kind == "SparkApplication" {
				out[filepath.Base(f)] = doc
			}
		}
	}
	return out
}

// crdValidator is the API server's OpenAPI validation of the operator's own SparkApplication CRD
// (config/crd/bases in the operator's module), version v1beta2.
func crdValidator(t *testing.T) validation.SchemaValidator {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kubeflow/spark-operator/v2").Output()
	if err != nil {
		t.Fatalf("locate the spark-operator module: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "bases", "sparkoperator.k8s.io_sparkapplications.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != "v1beta2" {
			continue
		}
		var internal apiextensions.CustomResourceValidation
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v.Schema, &internal, nil); err != nil {
			t.Fatal(err)
		}
		sv, _, err := validation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			t.Fatal(err)
		}
		return sv
	}
	t.Fatal("the CRD has no v1beta2")
	return nil
}

// Every SparkApplication of the example decodes strictly into the operator's Go types (an unknown
// or misspelt field fails) and passes the operator's CRD schema as the API server checks it.
func TestExamplesAreValidSparkApplications(t *testing.T) {
	sv := crdValidator(t)
	apps := sparkApplications(t)
	if len(apps) != 2 {
		t.Fatalf("%d SparkApplications, want the PageRank and its Celeborn variant", len(apps))
	}
	for name, doc := range apps {
		var app v1beta2.SparkApplication
		if err := yaml.UnmarshalStrict(doc, &app); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatal(err)
		}
		if res := sv.Validate(obj); !res.IsValid() {
			t.Errorf("%s: CRD schema: %v", name, res.Errors)
		}
		if app.Namespace != "spark" {
			t.Errorf("%s: namespace %q: the base's exporter discovers driver pods in namespace spark", name, app.Namespace)
		}
	}
}

// A strictly decoded bad field is caught, so the test above can fail.
func TestStrictDecodingRejectsUnknownField(t *testing.T) {
	var app v1beta2.SparkApplication
	doc := []byte("apiVersion: sparkoperator.k8s.io/v1beta2\nkind: SparkApplication\nspec:\n  dynamicAllocation:\n    shuffleTracking: true\n")
	if err := yaml.UnmarshalStrict(doc, &app); err == nil {
		t.Fatal("an unknown field decoded")
	}
}

// sparkProperties are the Spark properties the operator submits for the application's DRA
// settings (spec.dynamicAllocation → spark.dynamicAllocation.*, the executor's cores, then
// spec.sparkConf), as docs/spark-on-k8s.md describes its mapping.
func sparkProperties(app *v1beta2.SparkApplication) map[string]string {
	p := map[string]string{}
	if da := app.Spec.DynamicAllocation; da != nil {
		p[scaler.KeyEnabled] = strconv.FormatBool(da.Enabled)
		if da.InitialExecutors != nil {
			p[scaler.KeyInitialExecutors] = strconv.Itoa(int(*da.InitialExecutors))
		}
		if da.MinExecutors != nil {
			p[scaler.KeyMinExecutors] = strconv.Itoa(int(*da.MinExecutors))
		}
		if da.MaxExecutors != nil {
			p[scaler.KeyMaxExecutors] = strconv.Itoa(int(*da.MaxExecutors))
		}
		if da.ShuffleTrackingEnabled != nil {
			p[scaler.KeyShuffleTrackingEnabled] = strconv.FormatBool(*da.ShuffleTrackingEnabled)
		}
		if da.ShuffleTrackingTimeout != nil {
			p[scaler.KeyShuffleTrackingTimeout] = strconv.FormatInt(*da.ShuffleTrackingTimeout, 10)
		}
	}
	if c := app.Spec.Executor.Cores; c != nil {
		p[scaler.KeyExecutorCores] = strconv.Itoa(int(*c))
	}
	for k, v := range app.Spec.SparkConf {
		p[k] = v
	}
	return p
}

// What each example does to DRA, read with the exporter's own rules (scaler.ParseConfig, design.md
// "What an executor holds"): PageRank pins executors with shuffle output on purpose; the Celeborn
// variant is valid without tracking and pins nothing needlessly. Turning tracking back on in the
// Celeborn variant raises Spark's warning: the needless pinning the alert is about.
func TestExamplesDRASemantics(t *testing.T) {
	apps := sparkApplications(t)
	read := func(name string, edit func(*v1beta2.SparkApplication)) scaler.Config {
		t.Helper()
		var app v1beta2.SparkApplication
		if err := yaml.UnmarshalStrict(apps[name], &app); err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			edit(&app)
		}
		cfg, err := scaler.ParseConfig(sparkProperties(&app))
		if err != nil {
			t.Fatalf("%s: Spark would reject it: %v", name, err)
		}
		return cfg
	}
	pr := read("pagerank.yaml", nil)
	if !pr.Enabled || !pr.ShuffleTracking() || pr.NeedlessShufflePinning() || len(pr.Warnings()) != 0 {
		t.Errorf("pagerank: enabled %v tracking %v needless %v warnings %v", pr.Enabled, pr.ShuffleTracking(),
			pr.NeedlessShufflePinning(), pr.Warnings())
	}
	cb := read("pagerank-celeborn.yaml", nil)
	if !cb.Enabled || cb.ShuffleTracking() || !cb.ReliableShuffleStorage || cb.NeedlessShufflePinning() || len(cb.Warnings()) != 0 {
		t.Errorf("pagerank-celeborn: enabled %v tracking %v reliable %v needless %v warnings %v", cb.Enabled,
			cb.ShuffleTracking(), cb.ReliableShuffleStorage, cb.NeedlessShufflePinning(), cb.Warnings())
	}
	on := read("pagerank-celeborn.yaml", func(a *v1beta2.SparkApplication) {
		tr := true
		a.Spec.DynamicAllocation.ShuffleTrackingEnabled = &tr
	})
	if !on.NeedlessShufflePinning() || len(on.Warnings()) != 1 || on.Warnings()[0].Reason != scaler.WarningTrackingWithOtherMechanism {
		b, _ := json.Marshal(on.Warnings())
		t.Errorf("celeborn with tracking on: needless %v warnings %s", on.NeedlessShufflePinning(), b)
	}
}
