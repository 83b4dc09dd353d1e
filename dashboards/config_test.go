package dashboards

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

func TestDefaultConfigIsValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IdleCostResolution = 0
	cfg.CacheIdleThreshold = 0
	cfg.RunbookBaseURL = ""
	err := cfg.Validate()
	want := "idleCostResolution must be > 0, got 0s\ncacheIdleThreshold must be > 0, got 0s\nrunbookBaseURL must not be empty"
	if err == nil || err.Error() != want {
		t.Fatalf("Validate() = %v, want %q", err, want)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigOverridesDefaults(t *testing.T) {
	cfg, err := LoadConfig(writeConfig(t, "shuffleIdleThreshold: 20m\nexporterSelector: 'job=\"spark\"'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ShuffleIdleThreshold != model.Duration(20*time.Minute) {
		t.Errorf("shuffleIdleThreshold = %s, want 20m", cfg.ShuffleIdleThreshold)
	}
	if cfg.CacheIdleThreshold != DefaultConfig().CacheIdleThreshold {
		t.Errorf("cacheIdleThreshold = %s, want the default", cfg.CacheIdleThreshold)
	}
	expr := Rules(cfg).Groups[0].Rules[0].Expr.String()
	if !strings.Contains(expr, `spark_executor_idle_duration_seconds{job="spark", holds=~"shuffle|cache_shuffle"} > 1200`) {
		t.Errorf("shuffle rule does not use the configured selector and threshold: %s", expr)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct{ body, want string }{
		"unknown key":    {"shuffleIdleTreshold: 20m\n", `unknown field "shuffleIdleTreshold"`},
		"bad duration":   {"staleFor: 5 minutes\n", `unknown unit " minutes" in duration "5 minutes"`},
		"zero threshold": {"backlogThreshold: 0s\n", "backlogThreshold must be > 0, got 0s"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadConfig: err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("LoadConfig of a missing file: no error")
	}
}
