package exporter

import (
	"strconv"
	"strings"

	"github.com/sparkdra/sparkdra/scaler"
)

// Spark properties the exporter reads beyond the DRA settings.
const (
	keyMaster       = "spark.master"
	keyReverseProxy = "spark.ui.reverseProxy"
	// keyMetricsNamespace replaces the application id as the first part of every key of the
	// driver's metrics registry (docs/spark-rest.md §5.1).
	keyMetricsNamespace = "spark.metrics.namespace"
)

// AppConfig is what the exporter learns from an application's /environment, read once per
// application: its DRA settings with Spark's defaults, and the two rules of "what an executor
// holds" (design.md) that depend on them.
type AppConfig struct {
	// DRA holds the application's own spark.dynamicAllocation.* settings, spark.executor.cores
	// and spark.task.cpus, with Spark's defaults for what is unset (scaler.ParseConfig, the
	// same reading the scaler makes of trigger metadata).
	DRA scaler.Config
	// Active is true when the application runs Spark's own DRA: enabled, and not a local master
	// (unless spark.dynamicAllocation.testing is set), as in Spark.
	Active bool
	// ShufflePins is true when Spark's ExecutorMonitor keeps executors that ran shuffle map
	// tasks: its shuffleTrackingEnabled = !spark.shuffle.service.enabled &&
	// spark.dynamicAllocation.shuffleTracking.enabled (default true since Spark 3.4, false
	// before; scaler.Config.ShuffleTracking, docs/spark-dra.md §6). Where the shuffle lives
	// does not matter: with Apache Celeborn and tracking on, executors are still pinned
	// (NeedlessShufflePinning says so).
	ShufflePins bool
	// NeedlessShufflePinning is true when ShufflePins holds although the shuffle output is safe
	// without the executors (Celeborn, or shuffle-block decommissioning): turning shuffle
	// tracking off would release them and lose nothing (scaler.Config.NeedlessShufflePinning).
	NeedlessShufflePinning bool
	// Warnings are what the settings warn about (scaler.Config.Warnings), published as
	// spark_dra_config_warning{reason}.
	Warnings []scaler.Warning
	// DiskCachePins is false when the external shuffle service serves disk-persisted RDD blocks
	// (spark.shuffle.service.enabled and spark.shuffle.service.fetch.rdd.enabled): then only
	// blocks of RDDs whose storage level does not use disk pin an executor (ExecutorMonitor's
	// onBlockUpdated: !fetchFromShuffleSvc || !storageLevel.useDisk).
	DiskCachePins bool
	// MetricsNamespace is spark.metrics.namespace as set ("" when unset: the registry's keys
	// then start with the application id).
	MetricsNamespace string
	// Problems joins what Spark would reject in these settings (scaler.ParseConfig; nil if
	// none). Values that did not parse keep Spark's defaults; the rest is used as is.
	Problems error
}

// NewAppConfig reads the explicitly set Spark properties of an application running
// sparkVersion ("3.3.2", "4.0.0"; "" if unknown). Shuffle tracking defaults to off before 3.4.
func NewAppConfig(props map[string]string, sparkVersion string) AppConfig {
	p := props
	if _, set := props[scaler.KeyShuffleTrackingEnabled]; !set && versionBefore(sparkVersion, 3, 4) {
		p = make(map[string]string, len(props)+1)
		for k, v := range props {
			p[k] = v
		}
		p[scaler.KeyShuffleTrackingEnabled] = "false"
	}
	dra, err := scaler.ParseConfig(p)
	master := strings.TrimSpace(props[keyMaster])
	local := master == "local" || strings.HasPrefix(master, "local[") || strings.HasPrefix(master, "local-cluster[")
	return AppConfig{
		DRA:                    dra,
		Active:                 dra.Enabled && (!local || dra.Testing),
		ShufflePins:            dra.ShuffleTracking(),
		NeedlessShufflePinning: dra.NeedlessShufflePinning(),
		Warnings:               dra.Warnings(),
		DiskCachePins:          !(dra.ShuffleServiceEnabled && dra.ShuffleServiceFetchRDDEnabled),
		MetricsNamespace:       strings.TrimSpace(props[keyMetricsNamespace]),
		Problems:               err,
	}
}

// versionBefore reports whether version (major.minor…) is older than major.minor. An
// unparsable or empty version counts as current (not older).
func versionBefore(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || (ma == major && mi < minor)
}
