//go:build e2e_k8s

package k8se2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/sparkdra/sparkdra/e2e/k8s/kubelet"
)

const pinnedAlert = "SparkDRAExecutorsPinnedByShuffle"

// nativeDRA is scenario B, Spark on Kubernetes with Spark's own DRA (how EMR on EKS and the
// spark-operator run it): spark-submit in cluster mode, shuffle tracking on, min/initial/max
// 0/2/3 (a typical 5/10/100 scaled down to this machine; min 0 so that every executor can be
// released once the shuffle is cleaned). The driver pod creates and deletes its executor pods;
// the exporter, deployed as the base deploys it (Kubernetes discovery with the base's
// ServiceAccount and RBAC), finds the driver pod and polls it; Debian's Prometheus scrapes it
// and evaluates SparkDRAExecutorsPinnedByShuffle with its thresholds lowered.
func nativeDRA(t *testing.T, s *Stack, name string, rt kubelet.Runtime) {
	ctx := t.Context()
	run := newScenario(t, s, name, rt.Version)
	const idleTimeout = 10 * time.Second
	const alertIdle = 15 // seconds: the alert's "> 900" lowered to this

	objs := s.applyExample(ctx, "manifests/examples/spark-on-kubernetes")
	exporter := s.startExporter(ctx, objs, nil)
	rules, err := prometheusRules(pinnedAlert, "> 900", fmt.Sprintf("> %d", alertIdle), "5s")
	if err != nil {
		t.Fatal(err)
	}
	prom := s.startPrometheus(rules, exporter)

	signals := t.TempDir()
	app := "sparkdra-" + strings.ReplaceAll(name, "_", "-")
	run.clock = time.Now()
	submit := s.sparkSubmit(ctx, app, rt, map[string]string{
		"spark.dynamicAllocation.enabled":                 "true",
		"spark.dynamicAllocation.shuffleTracking.enabled": "true",
		"spark.dynamicAllocation.minExecutors":            "0",
		"spark.dynamicAllocation.initialExecutors":        "2",
		"spark.dynamicAllocation.maxExecutors":            "3",
		"spark.dynamicAllocation.executorIdleTimeout":     idleTimeout.String(),
		"spark.dynamicAllocation.schedulerBacklogTimeout": "1s",
	}, filepath.Join(repoRoot(), "e2e", "jobs", "ledger.py"), "--app-name", app, "--signal-dir", signals,
		"--transfers", "240000", "--partitions", "12", "--work", "40")
	run.phase("spark-submit started")

	driver := s.driverPodOf(ctx, app, 120*time.Second)
	run.mark("driver_pod_running")
	driverLog := s.Kubelet.LogPath(sparkNS, driver.Name)
	ui := "http://" + driver.Status.PodIP + ":4040"
	var appID string
	s.WaitUntil("the driver's application started", 240*time.Second, func() error {
		e := findEvent(driverLog, "started")
		if e == nil {
			return errNotYet
		}
		appID, _ = e["app_id"].(string)
		return nil
	})
	run.mark("spark_context_started")
	// Executor pods carry the application ID (spark-app-selector); the watch lists those already
	// created first.
	executors := countPods(ctx, s, sparkNS, "spark-role=executor,spark-app-selector="+appID, run.clock)
	t.Cleanup(func() {
		run.sum.ExecutorPodsTimeline = executors.Timeline()
		run.sum.ExecutorExitCodes = exitCodes(s.Kubelet, app)
	})
	run.phase("application " + appID + " on driver pod " + driver.Name)

	// The exporter finds the driver pod through the API server, with the base's RBAC.
	metricsURL := "http://" + exporter + "/metrics"
	s.WaitUntil("the exporter polls the driver pod", 120*time.Second, func() error {
		text, err := scrape(metricsURL)
		if err != nil {
			return err
		}
		if v, ok := gauge(text, "spark_up", `pod="`+driver.Name+`"`, `namespace="spark"`, `app_id="`+appID+`"`); !ok || v != 1 {
			return fmt.Errorf("spark_up{pod=%q} = %v (found %v)", driver.Name, v, ok)
		}
		return nil
	})
	run.mark("exporter_sees_driver")

	// The exporter's executor gauges track the executor pods: sampled while the job runs.
	mismatches, samples := 0, 0
	agree := func() error {
		text, err := scrape(metricsURL)
		if err != nil {
			return err
		}
		pods := executors.Live()
		hosts := labelValues(text, "spark_executor_info", "host", `app_id="`+appID+`"`)
		var podIPs []string
		for _, ip := range pods {
			podIPs = append(podIPs, ip)
		}
		sort.Strings(podIPs)
		n, _ := sumGauge(text, "spark_dra_executors", `app_id="`+appID+`"`)
		all, err := driverGauge(ui, "ExecutorAllocationManager.executors.numberAllExecutors")
		if err != nil {
			return err
		}
		if strings.Join(hosts, ",") != strings.Join(podIPs, ",") || int(n) != len(pods) || int(all) != len(pods) {
			return fmt.Errorf("executor pods %v; exporter executors %v on %v; driver numberAllExecutors %v", podIPs, n, hosts, all)
		}
		return nil
	}

	s.WaitUntil("the job's result", 900*time.Second, func() error {
		if findEvent(driverLog, "result") == nil {
			samples++
			if agree() != nil {
				mismatches++
			}
			return errNotYet
		}
		return nil
	})
	res := findEvent(driverLog, "result")
	run.sum.ResultOK, _ = res["ok"].(bool)
	run.mark("result")
	run.phase(fmt.Sprintf("result: ok=%v, balances sum %v, tiers %v", res["ok"], res["balance_sum"], res["tiers"]))
	if !run.sum.ResultOK {
		t.Errorf("the job's result differs from the reference: %v", res)
	}
	if max := executors.Max(); max < 2 || max > 3 {
		t.Errorf("executor pods peaked at %d, want within initialExecutors 2 .. maxExecutors 3", max)
	}
	run.note("while the job ran, %d of %d samples (every 100 ms) of the exporter's executors, the driver's numberAllExecutors and the executor pods disagreed: a pod exists seconds before its JVM registers, and the exporter polls once a second; at the checkpoints (pinned, released) all three agree", mismatches, samples)

	// Idle executors holding shuffle: reported holds="shuffle", kept by Spark past the idle
	// timeout (pinned), and the alert fires.
	s.WaitUntil("shuffle held", 60*time.Second, func() error {
		if findEvent(driverLog, "shuffle_held") == nil {
			return errNotYet
		}
		return nil
	})
	heldAt := time.Now()
	var pinned map[string]string
	s.WaitUntil(pinnedAlert+" firing", 180*time.Second, func() error {
		st, err := alertState(prom, pinnedAlert)
		if err != nil {
			return err
		}
		if st != "firing" {
			return fmt.Errorf("alert %q", st)
		}
		return nil
	})
	fired := true
	run.sum.PinnedAlertFired = &fired
	run.mark("pinned_alert_fired")
	run.phase(pinnedAlert + " firing")
	pinned = executors.Live()
	if len(pinned) == 0 {
		t.Fatal("no executor pod left while the shuffle is referenced: Spark did not keep them")
	}
	if d := time.Since(heldAt); d < idleTimeout {
		t.Errorf("the alert fired %s after the last job, before the idle timeout (%s)", d, idleTimeout)
	}
	text, err := scrape(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, n := sumGauge(text, "spark_executor_idle_duration_seconds", `app_id="`+appID+`"`, `holds="shuffle"`); n != len(pinned) {
		t.Errorf("%d executors reported idle with holds=\"shuffle\", %d executor pods are kept:\n%s", n, len(pinned), grepLines(text, "spark_executor_idle_duration_seconds"))
	}
	if err := agree(); err != nil {
		t.Errorf("while pinned: %v", err)
	}
	run.phase(fmt.Sprintf("%d executor pods kept past the %s idle timeout, all holds=shuffle", len(pinned), idleTimeout))

	// The driver drops the shuffle; the ContextCleaner removes it; Spark releases the executors
	// (min 0), the exporter's series go and the alert resolves.
	signal(t, signals, "release")
	run.phase("shuffle released by the driver")
	s.WaitUntil("the ContextCleaner removed the shuffle", 180*time.Second, func() error {
		e := findEvent(driverLog, "shuffle_cleaned")
		if e == nil {
			return errNotYet
		}
		if ok, _ := e["ok"].(bool); !ok {
			return fmt.Errorf("shuffles left: %v", e["left"])
		}
		return nil
	})
	run.mark("shuffle_cleaned")
	s.WaitUntil("every executor pod released", 120*time.Second, func() error {
		if n := len(executors.Live()); n != 0 {
			return fmt.Errorf("%d executor pods", n)
		}
		return nil
	})
	run.mark("executors_released")
	run.phase("executors released")
	resolved := false
	if err := s.Poll(pinnedAlert+" resolved", 120*time.Second, func() error {
		st, err := alertState(prom, pinnedAlert)
		if err != nil {
			return err
		}
		if st != "" {
			return fmt.Errorf("alert %q", st)
		}
		text, err := scrape(metricsURL)
		if err != nil {
			return err
		}
		if _, n := sumGauge(text, "spark_executor_idle_duration_seconds", `app_id="`+appID+`"`); n != 0 {
			return fmt.Errorf("%d idle executor series left", n)
		}
		return agree()
	}); err != nil {
		t.Error(err)
	} else {
		resolved = true
		run.mark("pinned_alert_resolved")
	}
	run.sum.PinnedAlertResolved = &resolved

	ex, err := driverExecutors(ui, appID)
	if err != nil {
		t.Fatal(err)
	}
	run.sum.TasksFailed = failedTasks(ex)
	if run.sum.TasksFailed != 0 {
		t.Errorf("%d tasks failed", run.sum.TasksFailed)
	}

	// The application ends: the driver pod's terminal status carries the exit code, which is
	// what spark-submit (waitAppCompletion) and the spark-operator read.
	signal(t, signals, "finish")
	if code := waitExit(submit, 180*time.Second); code != 0 {
		t.Errorf("spark-submit exited with %d, want 0 (the driver pod's phase Succeeded)", code)
	}
	run.mark("application_ended")
	p, err := s.Client.CoreV1().Pods(sparkNS).Get(ctx, driver.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodSucceeded || len(p.Status.ContainerStatuses) == 0 ||
		p.Status.ContainerStatuses[0].State.Terminated == nil || p.Status.ContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Errorf("driver pod: phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	deleteDriverPods(ctx, s, app)
}

// deleteDriverPods deletes an application's finished driver pods (their executors and
// ConfigMaps go with them: owner references).
func deleteDriverPods(ctx context.Context, s *Stack, app string) {
	err := s.Client.CoreV1().Pods(sparkNS).DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: "spark-role=driver,spark-app-name=" + app})
	if err != nil && !apierrors.IsNotFound(err) {
		s.t.Logf("delete driver pods of %s: %v", app, err)
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSparkOnKubernetes runs the Spark-on-Kubernetes scenarios on one shared control plane with
// the process kubelet: native_dra and standalone on PySpark 4.1 (the line the project pins),
// statefulset on PySpark 3.5 (the line the large managed offerings still run; cluster mode, so
// its executors reach the driver through the driver Service's name, the pods' hosts files
// standing in for cluster DNS). Each writes its entry of e2e/out/k8s-spark-summary.json; the
// pods' logs are under e2e/out/k8s/TestSparkOnKubernetes/pods/.
func TestSparkOnKubernetes(t *testing.T) {
	s := startSparkStack(t)
	ko, err := DefaultKubeletOptions()
	if err != nil {
		t.Fatal(err)
	}
	rt4 := ko.Runtimes[""]
	rt35, ok := ko.Runtimes["3.5"]
	if !ok {
		t.Fatal("no PySpark 3.5 venv: set SPARKDRA_E2E_PYTHON35 (make e2e-k8s-spark does)")
	}
	t.Run("native_dra", func(t *testing.T) { nativeDRA(t, s.WithT(t), "native_dra", rt4) })
	// The same on Spark 3.5: executors reach the driver through the driver Service's name.
	t.Run("native_dra_spark35", func(t *testing.T) { nativeDRA(t, s.WithT(t), "native_dra_spark35", rt35) })
	t.Run("standalone", func(t *testing.T) { standalone(t, s.WithT(t), rt4) })
	t.Run("statefulset", func(t *testing.T) { statefulSetAllocator(t, s.WithT(t), rt35, false) })
	// The same with decommissioning on: opt-in (SPARKDRA_K8S_DECOMMISSION=1; make e2e-k8s-spark
	// K8S_SPARK_DECOMMISSION=1), as it adds about three minutes to the tier.
	t.Run("statefulset_decommission", func(t *testing.T) {
		if os.Getenv("SPARKDRA_K8S_DECOMMISSION") != "1" {
			t.Skip("decommissioning variant: set SPARKDRA_K8S_DECOMMISSION=1 (make e2e-k8s-spark K8S_SPARK_DECOMMISSION=1)")
		}
		statefulSetAllocator(t, s.WithT(t), rt35, true)
	})
}
