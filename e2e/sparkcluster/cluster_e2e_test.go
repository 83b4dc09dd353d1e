//go:build e2e

package sparkcluster

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"
)

// startCluster starts a real standalone master for the test and stops it (and every worker) when
// the test ends, failed or not.
func startCluster(t *testing.T) *Cluster {
	t.Helper()
	python := os.Getenv("SPARKDRA_E2E_PYTHON")
	if python == "" {
		t.Fatal("SPARKDRA_E2E_PYTHON is not set: run through `make e2e-cluster`")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	home, err := SparkHomeFromPython(ctx, python)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Start(ctx, Options{SparkHome: home, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster: %v", err)
		}
	})
	return c
}

func TestPoolFollowsReplicasAndDeletionCost(t *testing.T) {
	c := startCluster(t)
	p := NewPool(c)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	ch, err := p.Reconcile(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if len(ch.Started) != 3 || p.Replicas() != 3 {
		t.Fatalf("scale to 3: started %v, replicas %d", ch.Started, p.Replicas())
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.AliveWorkers != 3 {
		t.Fatalf("master lists %d alive workers, want 3", st.AliveWorkers)
	}

	// The oldest worker is marked as the scaler's choice; the newest as busy. A ReplicaSet removes
	// the marked one, then the unmarked one, and keeps the busy one.
	ws := c.Workers()
	oldest, middle, newest := ws[0], ws[1], ws[2]
	p.SetDeletionCost(oldest.Host, -10)
	p.SetDeletionCost(newest.Host, 1000)
	ch, err = p.Reconcile(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Stopped, []string{oldest.Name}) {
		t.Fatalf("scale to 2 stopped %v, want [%s]", ch.Stopped, oldest.Name)
	}
	ch, err = p.Reconcile(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ch.Stopped, []string{middle.Name}) {
		t.Fatalf("scale to 1 stopped %v, want [%s]", ch.Stopped, middle.Name)
	}
	st, err = c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.AliveWorker(newest.Host); !ok || st.AliveWorkers != 1 {
		t.Fatalf("after scale to 1 the master lists %d alive workers (busy one alive: %v)", st.AliveWorkers, ok)
	}
	if exited, _ := oldest.proc.Exited(); !exited {
		t.Errorf("stopped worker %s (pid %d) still runs", oldest.Name, oldest.PID())
	}
}
