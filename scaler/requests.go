package scaler

import (
	"slices"
	"time"
)

// requests is what an Engine has asked the cluster for and not yet seen
// register: the executors implied by its previous answers minus the live
// executors of the observation, each with the time it was first asked for.
//
// It follows Spark's Kubernetes allocator (resource-managers/kubernetes/core/
// src/main/scala/org/apache/spark/scheduler/cluster/k8s/
// ExecutorPodsAllocator.scala, onNewSnapshots, SPARK-33099): when the
// target falls below running + pending pods, only pending pods created more
// than executorIdleTimeout ago are deleted; "newly requested pods are
// protected during executorIdleTimeout period". See docs/scaler.md,
// "Requested executors are not thrown away".
//
// Units: an answer of d executors makes the HPA run ceil(d/unit) replicas,
// so the executors requested are ceil(d/unit)·unit. An executor is
// registered when it appears in the observation (the exporter lists it:
// the driver knows it); a replica whose executors are only partly
// registered has the rest pending. Pending requests register oldest first.
type requests struct {
	unit      int
	known     bool    // requested holds a previous answer
	requested int     // executors implied by the previous answer
	pending   []int64 // when each pending executor was requested, oldest first
	cancelled uint64  // requests cancelled before they registered, in total
}

// roundUp is the executors requested by an answer of d: whole replicas.
func (r *requests) roundUp(d int) int {
	u := max(1, r.unit)
	return (d + u - 1) / u * u
}

// settle folds the live executor count into the pending list: the executors
// asked for by the previous answer that are not live are pending. When fewer
// are pending than before, the oldest registered; when more (a live
// executor went away while the answer still counts it), the missing ones
// are asked for again now, as a ReplicaSet replaces a lost pod.
func (r *requests) settle(live int, now int64) {
	if !r.known {
		r.known, r.requested = true, live
	}
	want := max(0, r.requested-live)
	if n := len(r.pending); n > want {
		r.pending = slices.Delete(r.pending, 0, n-want)
	}
	for len(r.pending) < want {
		r.pending = append(r.pending, now)
	}
}

// forget drops every pending request (the application ended) without
// counting it as cancelled.
func (r *requests) forget() { r.pending, r.requested = r.pending[:0], 0 }

// young counts the pending requests made at most idle ago (Spark deletes a
// pending pod only when now − creation > executorIdleTimeout).
func (r *requests) young(now int64, idle time.Duration) int {
	n := 0
	for _, t := range r.pending {
		if now-t <= int64(idle) {
			n++
		}
	}
	return n
}

// answer records an answer of desired executors with live registered: new
// requests are stamped now; requests the answer no longer covers are
// cancelled, newest first (a ReplicaSet deletes the newest not-ready pods
// first), and counted. It returns how many it cancelled.
func (r *requests) answer(desired, live int, now int64) int {
	req := r.roundUp(desired)
	cancelled := 0
	if excess := live + len(r.pending) - req; excess > 0 {
		cancelled = min(excess, len(r.pending))
		r.pending = r.pending[:len(r.pending)-cancelled]
		r.cancelled += uint64(cancelled)
	}
	for live+len(r.pending) < req {
		r.pending = append(r.pending, now)
	}
	r.requested = req
	return cancelled
}

// PendingRequest is one executor the scaler asked for that has not
// registered yet.
type PendingRequest struct {
	// Since is when it was first asked for (the Step whose answer implied it).
	Since time.Time
	// Age is the Step's now − Since.
	Age time.Duration
	// Protected: Age ≤ executorIdleTimeout, so it is not cancelled
	// (docs/scaler.md, "Requested executors are not thrown away").
	Protected bool
}

// SetExecutorsPerReplica tells the Engine how many executors one replica of
// the scale target hosts (a ScaledObject's executorsPerReplica; default 1):
// an answer of d executors requests ceil(d/n)·n of them. n < 1 is read as 1.
func (e *Engine) SetExecutorsPerReplica(n int) { e.req.unit = max(1, n) }

// CancelledRequests is the total of executors the Engine asked for and then
// cancelled (answered fewer) before they registered.
func (e *Engine) CancelledRequests() uint64 { return e.req.cancelled }
