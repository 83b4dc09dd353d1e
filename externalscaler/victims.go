package externalscaler

import (
	"context"

	"github.com/sparkdra/sparkdra/scaler"
)

// Pod deletion costs (annotation controller.kubernetes.io/pod-deletion-cost)
// the scaler sets before a scale-down. A ReplicaSet removes the pods of
// lowest cost first (among Running and Ready pods); the values are fixed so
// people can read them on the pods.
const (
	// CostNoExecutor: a pod of the target that hosts no executor at all
	// (nothing is lost when it goes).
	CostNoExecutor int32 = -2000
	// CostRemove is the cost of the first executor DRA chose to remove;
	// the i-th one (Spark's order) gets CostRemove + i.
	CostRemove int32 = -1000
	// CostIdle: an idle executor not (yet) timed out, holding nothing.
	CostIdle int32 = 0
	// CostKeep: running tasks, holding shuffle output a running job uses,
	// or holding cached blocks or shuffle output.
	CostKeep int32 = 1000
)

// VictimMarker sets pod deletion costs on the pods of a ScaledObject's
// scale target.
type VictimMarker interface {
	// MarkVictims gives each pod whose IP is a key of costs that cost, and
	// pods hosting no executor CostNoExecutor, patching only pods whose
	// annotation differs. It returns the pod name of each host it found.
	MarkVictims(ctx context.Context, so ObjectKey, costs map[string]int32) (map[string]string, error)
}

// DeletionCosts maps each executor host of rec to its pod deletion cost. It
// reads only rec's exported fields, so it works as well on a record decoded
// from /decisions.
// Several executors on one host (executorsPerReplica > 1) give the pod the
// highest of their costs: a pod is cheap only when all of its executors go.
func DeletionCosts(rec *DecisionRecord) map[string]int32 {
	order := make(map[string]int32, len(rec.Remove))
	for i, id := range rec.Remove {
		order[id] = int32(i)
	}
	costs := make(map[string]int32, len(rec.Executors))
	for i := range rec.Executors {
		x := &rec.Executors[i]
		if x.Host == "" {
			continue
		}
		c := executorCost(x, order)
		if cur, ok := costs[x.Host]; !ok || c > cur {
			costs[x.Host] = c
		}
	}
	return costs
}

func executorCost(x *ExecutorRecord, order map[string]int32) int32 {
	switch x.State {
	case scaler.ExecutorRemove.String():
		return CostRemove + order[x.ID]
	case scaler.ExecutorBusy.String(), scaler.ExecutorShuffleActive.String():
		return CostKeep
	}
	if x.Holds != scaler.HoldsNone.String() {
		return CostKeep
	}
	return CostIdle
}
