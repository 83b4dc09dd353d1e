package operator

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubeflow/spark-operator/v2/api/v1beta2"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"sigs.k8s.io/yaml"
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
