package exporter

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sparkdra/sparkdra/exporter/sparkapi"
	"github.com/sparkdra/sparkdra/scaler"
)

// CollectorOptions configures a Collector.
type CollectorOptions struct {
	// KubernetesLabels adds `namespace` and `pod` to every application-level series (empty for
	// drivers not found on Kubernetes). Set it when Kubernetes discovery is on.
	KubernetesLabels bool
	// PerExecutor publishes the spark_executor_* series. Turn it off for very large clusters;
	// the per-application series (spark_dra_executors by state) stay.
	PerExecutor bool
	// PollInterval is published as spark_dra_exporter_poll_interval_seconds when > 0, so that an
	// alert can compare each driver's poll duration with it.
	PollInterval time.Duration
}

// Collector is a prometheus.Collector publishing the latest snapshots of a Store as const
// metrics built at scrape time.
type Collector struct {
	store *Store
	opts  CollectorOptions
	descs map[string]*prometheus.Desc
	names map[string][]string // label names per metric
	defs  []metricDef

	freeMu sync.Mutex
	free   []map[string]*bytes.Buffer // WriteText's family buffers between scrapes
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector builds a Collector over store and registers it with reg.
func NewCollector(reg prometheus.Registerer, store *Store, opts CollectorOptions) (*Collector, error) {
	c := &Collector{store: store, opts: opts, descs: make(map[string]*prometheus.Desc), names: make(map[string][]string)}
	c.defs = append(c.defs, appMetrics...)
	c.defs = append(c.defs, driverMetrics()...)
	c.defs = append(c.defs, mStale)
	c.defs = append(c.defs, taskMetrics...)
	if opts.PerExecutor {
		c.defs = append(c.defs, executorMetrics...)
	}
	c.defs = append(c.defs, selfMetrics...)
	for _, d := range c.defs {
		c.names[d.name] = c.labelNames(d)
		c.descs[d.name] = prometheus.NewDesc(d.name, d.help, c.names[d.name], nil)
	}
	if err := reg.Register(c); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Collector) appLabelNames() []string {
	if c.opts.KubernetesLabels {
		return []string{labelAppID, labelAppName, labelNamespace, labelPod}
	}
	return []string{labelAppID, labelAppName}
}

func (c *Collector) labelNames(d metricDef) []string {
	var base []string
	switch d.scope {
	case scopeApp:
		base = c.appLabelNames()
	case scopeExecutor:
		base = append(c.appLabelNames(), labelExecutor)
	case scopeDriver:
		base = []string{labelDriver}
	}
	return append(base, d.labels...)
}

// Metrics describes every metric the Collector can publish, in order: what docs/metrics.md
// lists.
func (c *Collector) Metrics() []MetricInfo {
	out := make([]MetricInfo, 0, len(c.defs))
	for _, d := range c.defs {
		typ := "gauge"
		if d.typ == prometheus.CounterValue {
			typ = "counter"
		}
		out = append(out, MetricInfo{Name: d.name, Type: typ, Labels: c.labelNames(d), Help: d.help})
	}
	return out
}

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.defs {
		ch <- c.descs[d.name]
	}
}

// Collect sends the metrics of the latest snapshots.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var lv []string
	c.walk(func(d metricDef, v float64, base, extra []string) {
		lv = append(append(lv[:0], base...), extra...)
		m, err := prometheus.NewConstMetric(c.descs[d.name], d.typ, v, lv...)
		if err != nil {
			m = prometheus.NewInvalidMetric(c.descs[d.name], err)
		}
		ch <- m
	})
}

// sinkFunc receives one series: its metric, value and label values, those of its scope (base:
// the application's, the executor's, the driver's) followed by its own (extra). Both slices are
// only valid during the call, and base is the same slice for every series of one application,
// executor or driver in a row.
type sinkFunc func(d metricDef, v float64, base, extra []string)

// walk calls sink for every series of the latest snapshots, in a fixed order.
func (c *Collector) walk(sink sinkFunc) {
	snaps := c.store.Snapshots()
	c.walkTargets(snaps, sink)
	c.walkExporter(snaps, sink)
}

// walkTargets emits the series of the given targets.
func (c *Collector) walkTargets(snaps []*TargetSnapshot, sink sinkFunc) {
	e := emitter{c: c, sink: sink}
	for _, s := range snaps {
		e.driver(s)
		if s.AppID != "" {
			e.app(s)
		}
	}
}

// walkExporter emits the exporter-wide series.
func (c *Collector) walkExporter(snaps []*TargetSnapshot, sink sinkFunc) {
	e := emitter{c: c, sink: sink}
	sources := map[string]int{SourceStatic: 0, SourceKubernetes: 0, SourceStandalone: 0}
	for _, s := range snaps {
		sources[s.Target.Source]++
	}
	for _, src := range []string{SourceStatic, SourceKubernetes, SourceStandalone} {
		e.emit(mTargets, float64(sources[src]), nil, src)
	}
	if c.opts.PollInterval > 0 {
		e.emit(mPollInterval, c.opts.PollInterval.Seconds(), nil)
	}
}

// emitter builds const metrics; label values are made valid UTF-8 so that nothing a driver
// sends can make the collector fail.
type emitter struct {
	c    *Collector
	sink sinkFunc
}

func (e emitter) emit(d metricDef, v float64, base []string, extra ...string) {
	e.sink(d, v, base, extra)
}

func (e emitter) driver(s *TargetSnapshot) {
	labels := []string{clean(s.Target.Key)}
	e.emit(mScrapeSuccess, boolValue(s.Up), labels)
	e.emit(mScrapeDuration, s.PollDuration.Seconds(), labels)
	for _, r := range sortedReasons(s.Errors) {
		e.emit(mScrapeErrors, float64(s.Errors[r]), labels, string(r))
	}
}

func (e emitter) appLabels(s *TargetSnapshot) []string {
	l := []string{clean(s.AppID), clean(s.AppName)}
	if e.c.opts.KubernetesLabels {
		l = append(l, clean(s.Target.Namespace), clean(s.Target.Pod))
	}
	return l
}

func (e emitter) app(s *TargetSnapshot) {
	l := e.appLabels(s)
	e.emit(mUp, boolValue(s.Up), l)
	e.emit(mAppInfo, 1, l, clean(s.SparkVersion))
	a := s.App
	if a == nil {
		return
	}
	e.emit(mPending, float64(a.PendingTasks), l)
	e.emit(mRunning, float64(a.RunningTasks), l)
	e.emit(mBacklog, a.BacklogFor.Seconds(), l)
	e.emit(mStages, float64(a.StagesSubmitted), l)
	e.emit(mTPE, float64(a.TasksPerExecutor), l)
	e.emit(mMaxNeeded, float64(a.MaxNeededExecutors), l)
	counts := a.StateCounts()
	for i, st := range ExecutorStates {
		e.emit(mExecutors, float64(counts[i]), l, string(st))
	}
	e.config(a.Config, l)
	e.allocation(a.Driver, l)
	e.stale(a, l)
	e.tasks(a, l)
	if e.c.opts.PerExecutor {
		for i := range a.Executors {
			e.executor(&a.Executors[i], a.Config.ShufflePins, l)
		}
	}
}

func (e emitter) config(cfg AppConfig, l []string) {
	e.emit(mShufflePins, boolValue(cfg.ShufflePins), l)
	for _, w := range cfg.Warnings {
		e.emit(mConfigWarning, 1, l, w.Reason)
	}
	e.emit(mCfgEnabled, boolValue(cfg.Active), l)
	e.emit(mCfgMin, float64(cfg.DRA.MinExecutors), l)
	e.emit(mCfgMax, float64(cfg.DRA.MaxExecutors), l)
	e.emit(mCfgInitial, float64(cfg.DRA.InitialExecutors()), l)
	e.emit(mCfgRatio, cfg.DRA.ExecutorAllocationRatio, l)
	e.emit(mCfgIdle, seconds(cfg.DRA.ExecutorIdleTimeout), l)
	e.emit(mCfgCachedIdle, seconds(cfg.DRA.CachedExecutorIdleTimeout), l)
	e.emit(mCfgShuffleTimeout, seconds(cfg.DRA.ShuffleTrackingTimeout), l)
}

func (e emitter) executor(x *ExecutorSnapshot, shufflePins bool, app []string) {
	l := make([]string, len(app), len(app)+1)
	copy(l, app)
	l = append(l, clean(x.ID))
	e.emit(mExecInfo, 1, l, clean(x.Host), strconv.Itoa(x.ResourceProfileID))
	e.emit(mExecRunning, float64(x.RunningTasks), l)
	if !x.AddTime.IsZero() {
		e.emit(mExecAddTime, unixSeconds(x.AddTime), l)
	}
	if x.RunningTasks > 0 {
		return
	}
	// What an idle executor holds; busy executors are not candidates for release.
	e.emit(mExecIdle, x.IdleFor.Seconds(), l, string(x.Holds))
	if shufflePins {
		e.emit(mExecShuffleActive, boolValue(x.ShuffleActive), l)
	}
	e.emit(mExecRDDBlocks, float64(x.RDDBlocks), l)
	e.emit(mExecMemory, float64(x.MemoryUsed), l)
	e.emit(mExecDisk, float64(x.DiskUsed), l)
	e.emit(mExecShuffleWrite, float64(x.ShuffleWrite), l)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// seconds converts a Spark timeout; scaler.Infinite ("never") becomes +Inf.
func seconds(d time.Duration) float64 {
	if d == scaler.Infinite {
		return math.Inf(1)
	}
	return d.Seconds()
}

func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

func sortedReasons(m map[sparkapi.Reason]uint64) []sparkapi.Reason {
	out := make([]sparkapi.Reason, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
