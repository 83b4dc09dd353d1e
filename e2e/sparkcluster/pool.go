package sparkcluster

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Candidate is a running worker as a ReplicaSet ranks it for deletion.
type Candidate struct {
	// Name identifies the worker.
	Name string
	// DeletionCost is the value of its controller.kubernetes.io/pod-deletion-cost annotation
	// (0 when unset).
	DeletionCost int64
	// StartedAt stands for the pod's creation (and readiness) time.
	StartedAt time.Time
	// Ready: the worker has registered with the master (the pod is Ready).
	Ready bool
}

// RankForDeletion orders candidates the way a ReplicaSet picks pods to delete (all of them are
// scheduled and running): not-ready before ready; then lowest pod-deletion-cost first; among equal
// costs the pod that has been ready for the shortest time (the newest) first; the name breaks
// remaining ties so the order is total. It returns a sorted copy.
func RankForDeletion(cands []Candidate) []Candidate {
	out := append([]Candidate(nil), cands...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Ready != b.Ready {
			return !a.Ready
		}
		if a.DeletionCost != b.DeletionCost {
			return a.DeletionCost < b.DeletionCost
		}
		if !a.StartedAt.Equal(b.StartedAt) {
			return a.StartedAt.After(b.StartedAt)
		}
		return a.Name < b.Name
	})
	return out
}

// Change is what one reconcile did.
type Change struct {
	// Started and Stopped name the workers started and stopped, in order.
	Started, Stopped []string
}

// Pool turns a replica count into Spark Worker processes, one executor slot each.
//
// Pool is a stand-in: it plays the kubelet and the ReplicaSet of a Deployment of Spark workers,
// which cannot run on this machine without a Kubernetes node. On scale-up it starts workers (in
// parallel, like a ReplicaSet creating pods); on scale-down it stops the workers a ReplicaSet would
// delete (RankForDeletion), honouring the deletion costs set through SetDeletionCost, the way the
// ReplicaSet honours the pod-deletion-cost annotations the scaler writes. Everything it starts is
// a real Spark Worker; the k8s e2e tier replaces it with the real controllers.
type Pool struct {
	// OnError, if set, hears of workers that failed to register after a scale-up.
	OnError func(error)

	c *Cluster

	mu    sync.Mutex // serialises Reconcile
	costs sync.Map   // host → int64 deletion cost
}

// NewPool returns a pool over the workers of c.
func NewPool(c *Cluster) *Pool { return &Pool{c: c} }

// SetDeletionCost sets the deletion cost of the worker bound to host, as annotating its pod would.
func (p *Pool) SetDeletionCost(host string, cost int64) { p.costs.Store(host, cost) }

// DeletionCost returns the cost set for host, 0 when none is.
func (p *Pool) DeletionCost(host string) int64 {
	if v, ok := p.costs.Load(host); ok {
		return v.(int64)
	}
	return 0
}

// Replicas is the number of running workers.
func (p *Pool) Replicas() int { return len(p.c.Workers()) }

// Reconcile starts or stops workers until `replicas` run. A negative count is an error and changes
// nothing. New workers are launched and Reconcile returns without waiting for them to register
// (like pods created but not ready yet; WaitReady waits). Stops happen in parallel, each bounded
// by the cluster's ReadyTimeout;
// Change.Started lists the workers that came up, Change.Stopped the workers chosen and stopped
// (a stop that failed to confirm is still listed: the process was signalled); the error joins
// every failure.
func (p *Pool) Reconcile(ctx context.Context, replicas int) (Change, error) {
	if replicas < 0 {
		return Change{}, fmt.Errorf("reconcile: replicas %d < 0", replicas)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	workers := p.c.Workers()
	switch {
	case replicas > len(workers):
		return p.scaleUp(ctx, replicas-len(workers))
	case replicas < len(workers):
		return p.scaleDown(ctx, workers, len(workers)-replicas)
	}
	return Change{}, nil
}

func (p *Pool) scaleUp(ctx context.Context, n int) (Change, error) {
	var change Change
	var errs []error
	for range n {
		w, err := p.c.LaunchWorker()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		change.Started = append(change.Started, w.Name)
		go func() {
			// Registration is the worker's own business, as readiness is a pod's; a worker that
			// never registers is reported and stays not-ready (the first to go on scale-down).
			err := p.c.WaitWorker(ctx, w)
			if err != nil && !errors.Is(err, ErrWorkerStopped) && ctx.Err() == nil && p.OnError != nil {
				p.OnError(err)
			}
		}()
	}
	return change, errors.Join(errs...)
}

// WaitReady waits, bounded by ctx, until every running worker has registered with the master.
func (p *Pool) WaitReady(ctx context.Context) error {
	var errs []error
	for _, w := range p.c.Workers() {
		if !p.c.Ready(w) {
			errs = append(errs, p.c.WaitWorker(ctx, w))
		}
	}
	return errors.Join(errs...)
}

func (p *Pool) scaleDown(ctx context.Context, workers []*Worker, n int) (Change, error) {
	byName := map[string]*Worker{}
	cands := make([]Candidate, 0, len(workers))
	for _, w := range workers {
		byName[w.Name] = w
		cands = append(cands, Candidate{Name: w.Name, DeletionCost: p.DeletionCost(w.Host), StartedAt: w.StartedAt, Ready: p.c.Ready(w)})
	}
	victims := RankForDeletion(cands)[:n]
	errc := make(chan error, n)
	for _, v := range victims {
		go func() { errc <- p.c.StopWorker(ctx, byName[v.Name]) }()
	}
	var change Change
	var errs []error
	for range n {
		if err := <-errc; err != nil {
			errs = append(errs, err)
		}
	}
	for _, v := range victims {
		change.Stopped = append(change.Stopped, v.Name)
		p.costs.Delete(byName[v.Name].Host)
	}
	return change, errors.Join(errs...)
}
