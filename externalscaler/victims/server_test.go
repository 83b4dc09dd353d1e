package victims

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	pb "github.com/kedacore/keda/v2/pkg/scalers/externalscaler"

	"github.com/sparkdra/sparkdra/externalscaler"
)

// textSource serves a settable exposition through the real parser.
type textSource struct {
	mu   sync.Mutex
	text string
}

func (s *textSource) set(text string) { s.mu.Lock(); s.text = text; s.mu.Unlock() }

func (s *textSource) Fetch(_ context.Context, now time.Time) (*externalscaler.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return externalscaler.ParseExposition(strings.NewReader(s.text), now)
}

// app renders one application with executors 1..4 on 10.0.0.1..4: idle
// seconds per executor (negative = running a task) and what each holds.
func app(idle [4]float64, holds [4]string) string {
	l := `app_id="app-1",app_name="etl",namespace="spark"`
	var b strings.Builder
	running := 0
	for _, v := range idle {
		if v < 0 {
			running++
		}
	}
	fmt.Fprintf(&b, "spark_up{%s} 1\nspark_dra_pending_tasks{%s} 0\nspark_dra_running_tasks{%s} %d\n", l, l, l, running)
	fmt.Fprintf(&b, "spark_dra_stages_submitted{%s} 1\nspark_dra_executors{%s,state=\"all\"} 4\n", l, l)
	for i, v := range idle {
		el := fmt.Sprintf(`%s,executor_id="%d"`, l, i+1)
		fmt.Fprintf(&b, "spark_executor_info{%s,host=\"10.0.0.%d\",resource_profile_id=\"0\"} 1\n", el, i+1)
		if v < 0 {
			fmt.Fprintf(&b, "spark_executor_running_tasks{%s} 1\n", el)
			continue
		}
		fmt.Fprintf(&b, "spark_executor_running_tasks{%s} 0\nspark_executor_idle_duration_seconds{%s,holds=%q} %v\n", el, el, holds[i], v)
	}
	return b.String()
}

// TestCostsBeforeScaleDown runs the scaler's tick with client-go's fake
// clientsets: when DRA chooses executors for removal, their pods get the
// lowest deletion cost, the busy one and the shuffle holder a high one, and
// all of it is patched while the published desired count is still the old,
// higher one.
func TestCostsBeforeScaleDown(t *testing.T) {
	worker := map[string]string{"app": "worker"}
	kube, dyn := fakeCluster(t,
		pod("w-1", "10.0.0.1", worker, nil), pod("w-2", "10.0.0.2", worker, nil),
		pod("w-3", "10.0.0.3", worker, nil), pod("w-4", "10.0.0.4", worker, nil))
	src := &textSource{}
	now := time.Unix(1_500_000_000, 0)
	srv, err := externalscaler.NewServer(externalscaler.Options{DefaultSource: src, Marker: NewMarker(kube, dyn),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	key := externalscaler.ObjectKey{Namespace: "spark", Name: "workers"}
	var publishedAtPatch []int
	kube.PrependReactor("patch", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		publishedAtPatch = append(publishedAtPatch, srv.Decision(key).Desired)
		return false, nil, nil
	})
	ref := &pb.ScaledObjectRef{Name: "workers", Namespace: "spark", ScalerMetadata: map[string]string{
		"selector": `app_name="etl"`, "spark.dynamicAllocation.executorIdleTimeout": "60s"}}
	if _, err := srv.GetMetricSpec(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	none := [4]string{"none", "none", "none", "none"}
	src.set(app([4]float64{-1, 10, 20, 30}, none))
	srv.Tick(t.Context(), now)
	if d := srv.Decision(key); d.Desired != 4 || len(kube.Actions()) != 0 {
		t.Fatalf("nothing timed out: desired %d, %d API calls; want 4 and none", d.Desired, len(kube.Actions()))
	}

	// 61 s later executors 2 and 3 timed out; 4 holds shuffle output
	// (shuffle tracking keeps it); 1 is busy.
	now = now.Add(61 * time.Second)
	src.set(app([4]float64{-1, 71, 81, 91}, [4]string{"none", "none", "none", "shuffle"}))
	srv.Tick(t.Context(), now)
	d := srv.Decision(key)
	if d.Desired != 2 || strings.Join(d.Remove, ",") != "2,3" || !d.Marked {
		t.Fatalf("decision desired %d remove %v marked %v; want 2, [2 3], true", d.Desired, d.Remove, d.Marked)
	}
	for name, want := range map[string]string{"w-1": "1000", "w-2": "-1000", "w-3": "-999", "w-4": "1000"} {
		if got, _ := costOf(t, kube, name); got != want {
			t.Errorf("%s: pod-deletion-cost %q, want %q", name, got, want)
		}
	}
	if len(publishedAtPatch) != 4 {
		t.Fatalf("%d patches, want 4", len(publishedAtPatch))
	}
	for _, v := range publishedAtPatch {
		if v != 4 {
			t.Errorf("a pod was patched while desired %d was already published; want the old 4", v)
		}
	}
	for _, x := range d.Executors {
		if x.Pod == "" || x.DeletionCost == nil {
			t.Errorf("executor %s: pod %q cost %v not in /decisions", x.ID, x.Pod, x.DeletionCost)
		}
	}

	// Same state next tick: nothing is patched again.
	n := len(kube.Actions())
	now = now.Add(time.Second)
	src.set(app([4]float64{-1, 72, 82, 92}, [4]string{"none", "none", "none", "shuffle"}))
	srv.Tick(t.Context(), now)
	if extra := len(kube.Actions()) - n; extra != 0 {
		t.Errorf("%d API calls for an unchanged plan, want 0", extra)
	}
}

// failingMarker fails every call and counts them.
type failingMarker struct{ calls int }

func (f *failingMarker) MarkVictims(context.Context, externalscaler.ObjectKey, map[string]int32) (map[string]string, error) {
	f.calls++
	return nil, fmt.Errorf("the API server is unreachable")
}

// TestMarkFailureBacksOff: a failed marking still publishes the decision,
// and is not retried on every tick.
func TestMarkFailureBacksOff(t *testing.T) {
	src := &textSource{}
	src.set(app([4]float64{-1, 71, 81, 91}, [4]string{"none", "none", "none", "none"}))
	now := time.Unix(1_500_000_000, 0)
	m := &failingMarker{}
	srv, err := externalscaler.NewServer(externalscaler.Options{DefaultSource: src, Marker: m, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ref := &pb.ScaledObjectRef{Name: "workers", Namespace: "spark", ScalerMetadata: map[string]string{"selector": `app_name="etl"`}}
	if _, err := srv.GetMetricSpec(t.Context(), ref); err != nil {
		t.Fatal(err)
	}
	for range 30 {
		srv.Tick(t.Context(), now)
		now = now.Add(time.Second)
	}
	d := srv.Decision(externalscaler.ObjectKey{Namespace: "spark", Name: "workers"})
	if d.Desired != 1 || d.Marked {
		t.Errorf("decision desired %d marked %v, want 1 (published anyway) and false", d.Desired, d.Marked)
	}
	if m.calls != 1 {
		t.Errorf("%d marking attempts in 30 s, want 1 (then a minute's pause)", m.calls)
	}
	now = now.Add(time.Minute)
	srv.Tick(t.Context(), now)
	if m.calls != 2 {
		t.Errorf("%d attempts after the pause, want 2", m.calls)
	}
}
