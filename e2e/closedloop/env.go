package closedloop

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/sparkdra/sparkdra/e2e/sparkcluster"
)

// Environment variables the make targets (mk/e2e.mk) set for the e2e tier and the demo.
const (
	EnvPython = "SPARKDRA_E2E_PYTHON" // the venv interpreter with pyspark
	EnvBin    = "SPARKDRA_E2E_BIN"    // directory holding spark-dra-exporter and spark-dra-scaler
	EnvOut    = "SPARKDRA_E2E_OUT"    // where timeline.csv, the charts and summary.json go
)

// FromEnv fills the machine-dependent part of a Config from the environment: the interpreter
// and its Spark, the binaries, and Debian's prometheus when it is on PATH (else the embedded
// default). jobsDir is e2e/jobs relative to the working directory.
func FromEnv(ctx context.Context, jobsDir, job string) (Config, error) {
	var cfg Config
	var errs []error
	cfg.Python = os.Getenv(EnvPython)
	if cfg.Python == "" {
		errs = append(errs, fmt.Errorf("%s is not set (make e2e and make demo set it)", EnvPython))
	} else if home, err := sparkcluster.SparkHomeFromPython(ctx, cfg.Python); err != nil {
		errs = append(errs, err)
	} else {
		cfg.SparkHome = home
	}
	bin := os.Getenv(EnvBin)
	for _, b := range []struct {
		dst  *string
		name string
	}{{&cfg.ExporterBin, "spark-dra-exporter"}, {&cfg.ScalerBin, "spark-dra-scaler"}} {
		p := filepath.Join(bin, b.name)
		if _, err := os.Stat(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w (make e2e-bins builds it)", b.name, err))
		}
		*b.dst = p
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		cfg.PrometheusBin = p
	}
	cfg.JobScript = filepath.Join(jobsDir, job+".py")
	if _, err := os.Stat(cfg.JobScript); err != nil {
		errs = append(errs, err)
	}
	cfg.AppName = "e2e-" + job
	cfg.DRA = DefaultDRA()
	return cfg, errors.Join(errs...)
}

// OutDir is $SPARKDRA_E2E_OUT, or def when unset.
func OutDir(def string) string {
	if d := os.Getenv(EnvOut); d != "" {
		return d
	}
	return def
}
