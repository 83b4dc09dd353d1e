//go:build e2e_k8s

package k8se2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Summary is what a run writes to e2e/out/k8s-summary.json.
type Summary struct {
	// Passed is false when any assertion failed; the other fields say how far the run got.
	Passed            bool    `json:"passed"`
	StackReadySeconds float64 `json:"stack_ready_seconds"`
	ScenarioSeconds   float64 `json:"scenario_seconds"`
	// ReplicasTimeline is every spec.replicas of the worker Deployment, seconds since the
	// ScaledObject was applied.
	ReplicasTimeline []ReplicaPoint `json:"replicas_timeline"`
	// ScalerDesiredTimeline is each change of the scaler's desired replicas, at the time of its
	// decision (its /decisions, polled every 100 ms; gaps while the scaler is stopped).
	ScalerDesiredTimeline []ReplicaPoint `json:"scaler_desired_replicas_timeline"`
	// Phases are the moments the test changed something, same clock.
	Phases []Phase `json:"phases"`
	// NeedReplicas are the replicas DRA needs for the first and second backlog.
	NeedReplicas []int32 `json:"need_replicas"`
	// ActivationSeconds is from the scaler's first desired > 0 to spec.replicas >= 1 (KEDA's
	// external-push path); ActivationFromBacklogSeconds is from the driver's first pending task,
	// and includes Spark's schedulerBacklogTimeout (1 s in the example) and the exporter's poll.
	ActivationSeconds            float64 `json:"activation_seconds"`
	ActivationFromBacklogSeconds float64 `json:"activation_from_backlog_seconds"`
	// FallbackHeld: nothing shrank in either outage and, after each, scaling went on without a
	// dip. Outage 1, the scaler stopped for longer than cooldownPeriod: KEDA 2.21 never counts
	// an unreachable external scaler's failures (kedacore/keda#8056), so its Fallback condition
	// stays False (KEDAFallbackConditionScalerDown) and it is the HPA, unable to read the
	// metric, that holds. Outage 2, the scaler up but its data stale (exporter stopped): the
	// scaler answers codes.Unavailable and KEDA's fallback engages (KEDAFallbackEngaged).
	FallbackHeld                    bool    `json:"fallback_held"`
	KEDAFallbackConditionScalerDown string  `json:"keda_fallback_condition_scaler_down"`
	KEDAFallbackEngaged             bool    `json:"keda_fallback_engaged"`
	FallbackHeldReplicas            int32   `json:"fallback_held_replicas"`
	FallbackHeldSeconds             float64 `json:"fallback_held_seconds"`
	// VictimsMatch: the pods the ReplicaSet deleted when the idle executors timed out are
	// exactly the pods with the lowest pod-deletion-cost at that moment (and not the busy ones,
	// which are the newest: a ReplicaSet left to itself deletes the newest first).
	VictimsMatch   bool             `json:"victims_match"`
	Victims        []string         `json:"victims"`
	LowestCostPods []string         `json:"lowest_cost_pods"`
	BusyPods       []string         `json:"busy_pods"`
	CostsAtScaleIn map[string]int64 `json:"costs_at_scale_in"`
}

// Phase is a named moment of the scenario.
type Phase struct {
	Seconds float64 `json:"t"`
	Name    string  `json:"name"`
}

const (
	sparkNS     = "spark"
	workerName  = "spark-worker"
	workerLabel = "app.kubernetes.io/name=spark-worker"
	soName      = "spark-workers"
)

var scaledObjectGVR = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}

// TestKEDAScalesSparkWorkers applies the standalone example of manifests/ (addresses aside,
// unchanged) to a real API server and checks that real KEDA and the real HPA move the worker
// Deployment the way spark-dra-scaler's DRA says: activation from zero on a push, growth in
// DRA's steps to the need, a hold under KEDA's fallback while the scaler is down and no dip
// when it returns, and a scale-in that deletes exactly the pods the scaler marked cheapest.
func TestKEDAScalesSparkWorkers(t *testing.T) {
	sum := &Summary{}
	t.Cleanup(func() {
		sum.Passed = !t.Failed()
		writeSummary(t, sum)
	})
	s := StartStack(t, Options{})
	sum.StackReadySeconds = time.Since(s.started).Seconds()
	ctx := t.Context()
	scenarioStart := time.Now()

	// The example, rendered with kustomize. What this cluster cannot hold or does not need is
	// left out, and said so: prometheus-operator's kinds (no prometheus-operator here) and the
	// exporter and scaler Deployments (both run as local processes below, with the same
	// ServiceAccount identity for the scaler). The ScaledObject goes in last, its
	// scalerAddress pointed at the local scaler.
	objs, err := render("manifests/examples/standalone")
	if err != nil {
		t.Fatal(err)
	}
	var so *unstructured.Unstructured
	var rest []*unstructured.Unstructured
	for _, o := range objs {
		gv, _ := schema.ParseGroupVersion(o.GetAPIVersion())
		switch {
		case gv.Group == "monitoring.coreos.com":
			t.Logf("not applied (no prometheus-operator here): %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		case o.GetKind() == "Deployment" && o.GetNamespace() == "sparkdra":
			t.Logf("not applied (runs as a local process): %s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		case o.GetKind() == "ScaledObject":
			so = o
		case o.GetKind() == "Namespace":
			if _, err := s.applyOne(ctx, o, ""); err != nil {
				t.Fatal(err)
			}
		default:
			rest = append(rest, o)
		}
	}
	if so == nil {
		t.Fatal("the standalone example has no ScaledObject")
	}
	for _, ns := range []string{"sparkdra", sparkNS} {
		s.CreateNamespace(ctx, ns)
	}
	for _, o := range rest {
		if _, err := s.applyOne(ctx, o, ""); err != nil {
			t.Fatalf("apply %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}
	// The worker Deployment has no replicas field (KEDA owns the count), so it starts at 1. Set
	// it to the ScaledObject's minReplicaCount, 0, as KEDA would after its cooldown: the
	// activation from zero is part of the scenario.
	sc, err := s.Client.AppsV1().Deployments(sparkNS).GetScale(ctx, workerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = 0
	if _, err := s.Client.AppsV1().Deployments(sparkNS).UpdateScale(ctx, workerName, &autoscalingv1.Scale{ObjectMeta: sc.ObjectMeta, Spec: sc.Spec}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("no worker pod", 60*time.Second, func() error { return s.podsRunning(ctx, sparkNS, workerLabel, 0) })

	// The Spark driver: a stand-in serving a recorded live driver's REST payloads (see
	// DriverStandIn), its executors the live worker pods.
	pods := recordPods(ctx, s.Client, sparkNS, workerLabel)
	driver := NewDriverStandIn(loadPageRank(t), standInOverrides, pods.Live, time.Now)
	driverSrv := httptest.NewServer(driver)
	t.Cleanup(driverSrv.Close)

	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	exporterAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	scalerGRPC := "127.0.0.1:" + strconv.Itoa(ports[1])
	scalerWeb := "127.0.0.1:" + strconv.Itoa(ports[2])
	exporterArgs := []string{"--web.listen-address=" + exporterAddr, "--spark.driver-url=" + driverSrv.URL}
	exporter := s.StartProcess("spark-dra-exporter", sparkdraBin(t, "spark-dra-exporter"), nil, exporterArgs...)
	s.WaitUntil("exporter lists the application", 30*time.Second, func() error {
		text, err := scrape("http://" + exporterAddr + "/metrics")
		if err != nil {
			return err
		}
		if v, ok := gauge(text, "spark_up", `app_name="`+driver.AppName+`"`); !ok || v != 1 {
			return fmt.Errorf("spark_up = %v (found %v)", v, ok)
		}
		return nil
	})

	// The scaler runs as ServiceAccount sparkdra/spark-dra-scaler with the base's RBAC only.
	scalerKubeconfig := s.ServiceAccountKubeconfig(ctx, "sparkdra", "spark-dra-scaler")
	// --scaler.staleness is shortened from 60 s so that the stale-data outage below is short.
	scalerArgs := []string{"--grpc.listen-address=" + scalerGRPC, "--web.listen-address=" + scalerWeb,
		"--exporter.url=http://" + exporterAddr + "/metrics", "--kubernetes.kubeconfig=" + scalerKubeconfig, "--scaler.staleness=10s"}
	scaler := s.StartProcess("spark-dra-scaler", sparkdraBin(t, "spark-dra-scaler"), nil, scalerArgs...)
	s.WaitUntil("scaler /metrics", 30*time.Second, func() error {
		_, err := scrape("http://" + scalerWeb + "/metrics")
		return err
	})

	trig, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	for _, tr := range trig {
		m := tr.(map[string]any)
		md := m["metadata"].(map[string]any)
		t.Logf("trigger %v: scalerAddress %v -> %s", m["type"], md["scalerAddress"], scalerGRPC)
		md["scalerAddress"] = scalerGRPC
	}
	if err := unstructured.SetNestedSlice(so.Object, trig, "spec", "triggers"); err != nil {
		t.Fatal(err)
	}

	// Clocks of the timelines start at the ScaledObject.
	clock := time.Now()
	since := func() float64 { return time.Since(clock).Seconds() }
	// Each phase also saves the scaler's /decisions next to the logs, for a reader of a failure.
	phase := func(name string) {
		sum.Phases = append(sum.Phases, Phase{since(), name})
		t.Logf("%.1fs %s", since(), name)
		if b, err := scrape("http://" + scalerWeb + "/decisions"); err == nil {
			_ = os.WriteFile(filepath.Join(s.LogDir, fmt.Sprintf("decisions-%02d.json", len(sum.Phases))), []byte(b), 0o644)
		}
	}
	replicas := recordReplicas(ctx, s.Client, sparkNS, workerName, clock)
	desired := recordDesired(ctx, "http://"+scalerWeb+"/decisions", soName, clock)
	t.Cleanup(func() {
		sum.ReplicasTimeline = replicas.Timeline()
		sum.ScalerDesiredTimeline = desired.Timeline()
		sum.ScenarioSeconds = time.Since(scenarioStart).Seconds()
	})
	if _, err := s.applyOne(ctx, so, ""); err != nil {
		t.Fatal(err)
	}
	phase("ScaledObject applied")
	s.WaitUntil("ScaledObject Ready", 60*time.Second, func() error {
		return s.condition(ctx, scaledObjectGVR, sparkNS, soName, "Ready")
	})
	s.WaitUntil("HPA keda-hpa-"+soName, 60*time.Second, func() error {
		_, err := s.Client.AutoscalingV2().HorizontalPodAutoscalers(sparkNS).Get(ctx, "keda-hpa-"+soName, metav1.GetOptions{})
		return err
	})
	// Before any backlog the scaler must have decided 0 (no executor, nothing pending) and the
	// Deployment must still be at 0, or the activation below would measure nothing.
	s.WaitUntil("the scaler's first decision", 30*time.Second, func() error {
		if len(desired.Timeline()) == 0 {
			return errNotYet
		}
		return nil
	})
	if d := desired.Timeline()[0].Replicas; d != 0 {
		t.Fatalf("the scaler's first desired replicas = %d before any backlog, want 0", d)
	}
	if r := replicas.Current(); r != 0 {
		t.Fatalf("spec.replicas = %d before any backlog, want 0", r)
	}

	// 1. Activation from zero: a steady backlog of 8 tasks (4 executors of 2 cores).
	tpe := driver.tasksPerExecutor()
	need := func(tasks int) int32 { return int32((tasks + tpe - 1) / tpe) } // executorsPerReplica 1
	sum.NeedReplicas = []int32{need(8), need(20)}
	phase(fmt.Sprintf("backlog: 8 tasks (need %d)", need(8)))
	backlogAt := since()
	driver.SetBacklog(8)
	s.WaitUntil("activation (spec.replicas >= 1)", 30*time.Second, func() error {
		if replicas.Current() < 1 {
			return fmt.Errorf("spec.replicas %d", replicas.Current())
		}
		return nil
	})
	activatedAt := firstAtLeast(replicas.Timeline(), 1)
	// /decisions is polled every 100 ms, so the decision may be read after KEDA acted on it.
	s.WaitUntil("the scaler's desired > 0 read", 5*time.Second, func() error {
		if firstAtLeast(desired.Timeline(), 1) < 0 {
			return errNotYet
		}
		return nil
	})
	decidedAt := firstAtLeast(desired.Timeline(), 1)
	sum.ActivationFromBacklogSeconds = activatedAt - backlogAt
	sum.ActivationSeconds = activatedAt - decidedAt
	t.Logf("activation: %.2fs after the backlog, %.2fs after the scaler's decision", sum.ActivationFromBacklogSeconds, sum.ActivationSeconds)
	if poll, _, _ := unstructured.NestedFieldNoCopy(so.Object, "spec", "pollingInterval"); poll != nil {
		if p, ok := poll.(float64); ok && sum.ActivationFromBacklogSeconds >= p {
			t.Errorf("activation took %.2fs after the backlog, not less than the pollingInterval %vs", sum.ActivationFromBacklogSeconds, p)
		}
	}
	if sum.ActivationSeconds > 1 {
		t.Errorf("activation took %.2fs after the scaler's decision, want <= 1s (external-push)", sum.ActivationSeconds)
	}

	// 2. Growth to the need in DRA's steps.
	s.WaitUntil("the first need Running", 90*time.Second, func() error {
		return s.podsRunning(ctx, sparkNS, workerLabel, int(sum.NeedReplicas[0]))
	})
	phase("first need reached")

	// 3. The scaler stops; the backlog grows to 20 tasks (need 10) meanwhile. Nothing may shrink.
	// What holds the count in KEDA 2.21: it asks an external scaler for its metric spec before
	// any metric, so with the scaler unreachable that call fails first and the fallback counter
	// never moves (kedacore/keda#8056, open): KEDA's Fallback condition stays False. The HPA then
	// gets an error for the metric and keeps its count (ScalingActive False,
	// FailedGetExternalMetric), and KEDA's own loop does not deactivate on errors. So the outcome
	// `fallback: currentReplicas` asks for holds; the test asserts that outcome for longer than
	// the ScaledObject's cooldownPeriod (the longest any path would take to shrink), and records
	// the Fallback condition as it is.
	held := replicas.Current()
	phase("scaler stopped")
	stopAt := since()
	if err := s.StopProcess(scaler, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	driver.SetBacklog(20)
	s.WaitUntil("HPA cannot read the metric", 60*time.Second, func() error {
		return s.hpaCondition(ctx, sparkNS, "keda-hpa-"+soName, "ScalingActive", "False")
	})
	phase("HPA: ScalingActive False (metric unavailable)")
	cooldown, _, _ := unstructured.NestedFieldNoCopy(so.Object, "spec", "cooldownPeriod")
	cooldownSeconds, ok := cooldown.(float64) // JSON numbers decode as float64
	if !ok {
		t.Fatalf("ScaledObject cooldownPeriod %v (%T): want a number", cooldown, cooldown)
	}
	hold := time.Duration(cooldownSeconds)*time.Second + 5*time.Second
	holdUntil := time.Now().Add(hold)
	if err := s.Poll("hold while the scaler is down", hold+10*time.Second, func() error {
		if m := replicas.MinSince(stopAt); m < held {
			return fmt.Errorf("spec.replicas fell to %d while the scaler was down (held %d)", m, held)
		}
		if time.Now().Before(holdUntil) {
			return errNotYet
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sum.KEDAFallbackConditionScalerDown = s.conditionStatus(ctx, scaledObjectGVR, sparkNS, soName, "Fallback")
	sum.FallbackHeldReplicas = held
	sum.FallbackHeldSeconds = since() - stopAt

	// 4. The scaler starts again: scaling resumes to the new need without a dip.
	phase("scaler restarted")
	scaler = s.StartProcess("spark-dra-scaler", sparkdraBin(t, "spark-dra-scaler"), nil, scalerArgs...)
	s.WaitUntil("the second need Running", 120*time.Second, func() error {
		return s.podsRunning(ctx, sparkNS, workerLabel, int(sum.NeedReplicas[1]))
	})
	phase("second need reached")
	heldThroughOutage := replicas.MinSince(stopAt) >= held
	if !heldThroughOutage {
		t.Errorf("spec.replicas dipped to %d after the scaler stopped at %d", replicas.MinSince(stopAt), held)
	}
	checkSteps(t, replicas.Timeline(), desired.Timeline(), backlogAt, since())

	// 4b. KEDA's own fallback: the scaler stays up but its data goes stale (the exporter stops),
	// so it answers codes.Unavailable; KEDA counts the failures, and past failureThreshold serves
	// the HPA currentReplicas (behavior: currentReplicas). The count must hold at the need.
	held2 := replicas.Current()
	phase("exporter stopped (the scaler's data goes stale)")
	staleAt := since()
	if err := s.StopProcess(exporter, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	s.WaitUntil("KEDA Fallback condition True", 90*time.Second, func() error {
		return s.condition(ctx, scaledObjectGVR, sparkNS, soName, "Fallback")
	})
	phase("KEDA fallback active")
	sum.KEDAFallbackEngaged = true
	holdUntil = time.Now().Add(8 * time.Second) // four HPA syncs on the fallback metric
	if err := s.Poll("hold under KEDA's fallback", 20*time.Second, func() error {
		if m := replicas.MinSince(staleAt); m < held2 {
			return fmt.Errorf("spec.replicas fell to %d under KEDA's fallback (held %d)", m, held2)
		}
		if time.Now().Before(holdUntil) {
			return errNotYet
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	exporter = s.StartProcess("spark-dra-exporter", sparkdraBin(t, "spark-dra-exporter"), nil, exporterArgs...)
	phase("exporter restarted")
	s.WaitUntil("KEDA Fallback condition False", 60*time.Second, func() error {
		if st := s.conditionStatus(ctx, scaledObjectGVR, sparkNS, soName, "Fallback"); st != "False" {
			return fmt.Errorf("Fallback %q", st)
		}
		return nil
	})
	phase("KEDA fallback cleared")
	if m := replicas.MinSince(staleAt); m < held2 {
		t.Errorf("spec.replicas dipped to %d during the stale-data outage (held %d)", m, held2)
	} else if heldThroughOutage {
		sum.FallbackHeld = true
	}

	// 5. The backlog ends: only the two newest workers keep running tasks. Once the others have
	// been idle for executorIdleTimeout (60 s in the example), DRA removes them: the scaler marks
	// their pods cheapest and the ReplicaSet must delete exactly those.
	live := pods.Live()
	busy := []string{live[len(live)-1].Name, live[len(live)-2].Name}
	sort.Strings(busy)
	sum.BusyPods = busy
	tailAt := time.Now()
	phase("backlog ends; busy: " + busy[0] + ", " + busy[1])
	driver.SetTail(busy)
	s.WaitUntil("scale-in to the busy workers", 180*time.Second, func() error { return s.podsRunning(ctx, sparkNS, workerLabel, len(busy)) })
	phase("scaled in to the busy workers")
	deleted := pods.DeletedSince(tailAt)
	checkVictims(t, sum, deleted, busy)
}

// firstAtLeast returns the time of the first point with Replicas >= n, or -1.
func firstAtLeast(tl []ReplicaPoint, n int32) float64 {
	for _, p := range tl {
		if p.Replicas >= n {
			return p.Seconds
		}
	}
	return -1
}

// checkSteps asserts that, between from and to, spec.replicas never decreased and each value it
// took was one the scaler had answered (DRA's steps, possibly several in one HPA sync).
func checkSteps(t *testing.T, tl, desired []ReplicaPoint, from, to float64) {
	t.Helper()
	prev := int32(-1)
	for _, p := range tl {
		if p.Seconds < from || p.Seconds > to {
			continue
		}
		if p.Replicas < prev {
			t.Errorf("spec.replicas went down from %d to %d at %.1fs during the backlog", prev, p.Replicas, p.Seconds)
		}
		prev = p.Replicas
		ok := false
		for _, d := range desired {
			if d.Replicas == p.Replicas && d.Seconds <= p.Seconds+0.5 {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("spec.replicas %d at %.1fs is no value the scaler answered before", p.Replicas, p.Seconds)
		}
	}
}

// checkVictims asserts that the deleted pods are exactly the lowest-cost pods at the moment of
// the scale-in, and none of the busy ones.
func checkVictims(t *testing.T, sum *Summary, deleted []podRecord, busy []string) {
	t.Helper()
	if len(deleted) == 0 {
		t.Fatal("no pod was deleted")
	}
	for _, d := range deleted {
		sum.Victims = append(sum.Victims, d.Name)
	}
	// The costs every pod had just before the first deletion.
	first := deleted[0]
	for _, d := range deleted {
		if d.Deleted.Before(first.Deleted) {
			first = d
		}
	}
	costs := first.CostsAtDeletion
	sum.CostsAtScaleIn = map[string]int64{}
	names := make([]string, 0, len(costs))
	for n, c := range costs {
		names = append(names, n)
		if c != nil {
			sum.CostsAtScaleIn[n] = *c
		}
	}
	cost := func(n string) int64 { // a pod without the annotation ranks as cost 0
		if c := costs[n]; c != nil {
			return *c
		}
		return 0
	}
	sort.Slice(names, func(i, j int) bool {
		if cost(names[i]) != cost(names[j]) {
			return cost(names[i]) < cost(names[j])
		}
		return names[i] < names[j]
	})
	k := len(deleted)
	if k > len(names) {
		t.Fatalf("%d pods deleted but only %d known at the scale-in", k, len(names))
	}
	sum.LowestCostPods = slices.Clone(names[:k])
	sort.Strings(sum.LowestCostPods)
	tie := k < len(names) && cost(names[k-1]) == cost(names[k])
	sum.VictimsMatch = slices.Equal(sum.Victims, sum.LowestCostPods) && !tie
	for _, b := range busy {
		if slices.Contains(sum.Victims, b) {
			sum.VictimsMatch = false
			t.Errorf("busy pod %s was deleted", b)
		}
	}
	if !sum.VictimsMatch {
		t.Errorf("deleted %v, lowest-cost pods %v (tie at the boundary: %v); costs %v", sum.Victims, sum.LowestCostPods, tie, sum.CostsAtScaleIn)
	}
}

// desiredRecorder polls the scaler's /decisions every 100 ms and records each change of the
// desired replicas of one ScaledObject at the time the scaler took that decision.
type desiredRecorder struct {
	mu     sync.Mutex
	points []ReplicaPoint
}

func recordDesired(ctx context.Context, url, so string, clock time.Time) *desiredRecorder {
	r := &desiredRecorder{}
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			body, err := scrape(url)
			if err != nil {
				continue
			}
			var decisions []struct {
				ScaledObject    struct{ Name string } `json:"scaledObject"`
				Time            time.Time             `json:"time"`
				DesiredReplicas int32                 `json:"desiredReplicas"`
			}
			if json.Unmarshal([]byte(body), &decisions) != nil {
				continue
			}
			for _, d := range decisions {
				if d.ScaledObject.Name != so {
					continue
				}
				r.mu.Lock()
				if n := len(r.points); n == 0 || r.points[n-1].Replicas != d.DesiredReplicas {
					r.points = append(r.points, ReplicaPoint{Seconds: d.Time.Sub(clock).Seconds(), Replicas: d.DesiredReplicas})
				}
				r.mu.Unlock()
			}
		}
	}()
	return r
}

func (r *desiredRecorder) Timeline() []ReplicaPoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.points)
}

func writeSummary(t *testing.T, sum *Summary) {
	b, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		t.Error(err)
		return
	}
	path := filepath.Join(OutDir(), "k8s-summary.json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Error(err)
		return
	}
	t.Logf("wrote %s", path)
}
