package sparkcluster

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func names(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func TestRankForDeletion(t *testing.T) {
	t0 := time.Unix(1_500_000_000, 0)
	cases := map[string]struct {
		in   []Candidate
		want []string
	}{
		"lowest cost first": {
			in: []Candidate{
				{Name: "a", DeletionCost: 100, StartedAt: t0},
				{Name: "b", DeletionCost: -5, StartedAt: t0},
				{Name: "c", DeletionCost: 0, StartedAt: t0},
			},
			want: []string{"b", "c", "a"},
		},
		"equal cost: newest first": {
			in: []Candidate{
				{Name: "old", StartedAt: t0},
				{Name: "new", StartedAt: t0.Add(2 * time.Second)},
				{Name: "mid", StartedAt: t0.Add(time.Second)},
			},
			want: []string{"new", "mid", "old"},
		},
		"cost beats age": {
			in: []Candidate{
				{Name: "busy-new", DeletionCost: 1000, StartedAt: t0.Add(time.Minute)},
				{Name: "idle-old", DeletionCost: -1, StartedAt: t0},
			},
			want: []string{"idle-old", "busy-new"},
		},
		"not ready goes first whatever its cost": {
			in: []Candidate{
				{Name: "ready-victim", DeletionCost: -1000, StartedAt: t0, Ready: true},
				{Name: "starting", DeletionCost: 1000, StartedAt: t0, Ready: false},
			},
			want: []string{"starting", "ready-victim"},
		},
		"full tie: by name": {
			in:   []Candidate{{Name: "w2", StartedAt: t0}, {Name: "w1", StartedAt: t0}},
			want: []string{"w1", "w2"},
		},
		"empty": {in: nil, want: []string{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := names(RankForDeletion(tc.in))
			if !slices.Equal(got, tc.want) {
				t.Errorf("RankForDeletion = %v, want %v", got, tc.want)
			}
			if !slices.Equal(in, tc.in) {
				t.Errorf("RankForDeletion changed its input")
			}
		})
	}
}

func TestHostFor(t *testing.T) {
	cases := map[int]string{0: "127.0.0.2", 1: "127.0.0.3", 249: "127.0.0.251", 250: "127.0.1.2"}
	for n, want := range cases {
		if got := hostFor(n); got != want {
			t.Errorf("hostFor(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestReconcileRejectsNegative(t *testing.T) {
	p := NewPool(&Cluster{workers: map[string]*Worker{}})
	if _, err := p.Reconcile(context.Background(), -1); err == nil {
		t.Fatal("Reconcile(-1) succeeded")
	}
}

func TestOptionsValidateJoinsErrors(t *testing.T) {
	err := Options{}.Validate()
	if err == nil {
		t.Fatal("empty options validated")
	}
	for _, want := range []string{"SparkHome is required", "Dir is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestPollUntilBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := PollUntil(ctx, time.Millisecond, "never", func(context.Context) (bool, error) {
		calls++
		if calls == 3 {
			cancel()
		}
		return false, nil
	})
	if err == nil || calls < 3 {
		t.Fatalf("PollUntil = %v after %d calls, want a context error", err, calls)
	}
	err = PollUntil(context.Background(), time.Millisecond, "stop", func(context.Context) (bool, error) {
		return false, Permanent(context.DeadlineExceeded)
	})
	if err == nil {
		t.Fatal("PollUntil ignored a permanent error")
	}
}
