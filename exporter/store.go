package exporter

import (
	"sort"
	"sync"
)

// Store holds the latest TargetSnapshot of every target. It is safe for concurrent use: poll
// loops write, scrapes read.
type Store struct {
	mu      sync.RWMutex
	targets map[string]*TargetSnapshot
	onSet   func(*TargetSnapshot) // tests only: observe the order of stores
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{targets: make(map[string]*TargetSnapshot)}
}

// Set replaces the snapshot of s.Target.Key.
func (st *Store) Set(s *TargetSnapshot) {
	st.mu.Lock()
	st.targets[s.Target.Key] = s
	hook := st.onSet
	st.mu.Unlock()
	if hook != nil {
		hook(s)
	}
}

// Delete forgets a target: its series disappear from the next scrape.
func (st *Store) Delete(key string) {
	st.mu.Lock()
	delete(st.targets, key)
	st.mu.Unlock()
}

// Snapshots returns the latest snapshots sorted by target key.
func (st *Store) Snapshots() []*TargetSnapshot {
	st.mu.RLock()
	out := make([]*TargetSnapshot, 0, len(st.targets))
	for _, s := range st.targets {
		out = append(out, s)
	}
	st.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Target.Key < out[j].Target.Key })
	return out
}

// Len is the number of targets.
func (st *Store) Len() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.targets)
}
