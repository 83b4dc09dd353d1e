package manifests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// scaledObjectSchema reads the openAPIV3Schema of KEDA's ScaledObject CRD from the KEDA module
// the tests build against (config/crd/bases in github.com/kedacore/keda/v2): the schema the
// apiserver enforces (enums, minimums, types) beyond what Go decoding checks.
func scaledObjectSchema(t *testing.T) *spec.Schema {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kedacore/keda/v2").Output()
	if err != nil {
		t.Fatalf("locating the KEDA module: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "bases", "keda.sh_scaledobjects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema json.RawMessage `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1alpha1" {
			var s spec.Schema
			if err := json.Unmarshal(v.Schema.OpenAPIV3Schema, &s); err != nil {
				t.Fatal(err)
			}
			return &s
		}
	}
	t.Fatal("the CRD has no v1alpha1 schema")
	return nil
}

// validateAgainstCRD checks every ScaledObject a kustomization renders against the CRD schema.
func validateAgainstCRD(t *testing.T, schema *spec.Schema, dir string) []string {
	t.Helper()
	rm, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var problems []string
	for _, res := range rm.Resources() {
		if res.GetKind() != "ScaledObject" {
			continue
		}
		obj, err := res.Map()
		if err != nil {
			t.Fatal(err)
		}
		result := validate.NewSchemaValidator(schema, nil, "", strfmt.Default).Validate(obj)
		for _, e := range result.Errors {
			problems = append(problems, res.GetName()+": "+e.Error())
		}
	}
	return problems
}

func TestScaledObjectsMatchKEDACRDSchema(t *testing.T) {
	schema := scaledObjectSchema(t)
	for _, dir := range kustomizations[1:] {
		if problems := validateAgainstCRD(t, schema, dir); len(problems) > 0 {
			t.Errorf("%s:\n%s", dir, strings.Join(problems, "\n"))
		}
	}
}

func TestCRDSchemaRejectsAnUnknownFallbackBehavior(t *testing.T) {
	schema := scaledObjectSchema(t)
	problems := validateAgainstCRD(t, schema, "testdata/bad-fallback")
	if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), "spec.fallback.behavior") {
		t.Fatalf("fallback.behavior currentReplica passed the CRD schema: %v", problems)
	}
}
