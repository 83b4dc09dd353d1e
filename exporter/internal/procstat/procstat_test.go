package procstat

import (
	"os"
	"testing"
)

func TestOwnProcess(t *testing.T) {
	if _, err := CPU(os.Getpid()); err != nil {
		t.Fatalf("CPU: %v", err)
	}
	rss, hwm, err := Memory(os.Getpid())
	if err != nil {
		t.Fatalf("Memory: %v", err)
	}
	if rss <= 0 || hwm < rss {
		t.Errorf("rss %d kB, hwm %d kB: want 0 < rss <= hwm", rss, hwm)
	}
}

func TestMissingProcess(t *testing.T) {
	if _, err := CPU(-1); err == nil {
		t.Error("CPU of pid -1: no error")
	}
	if _, _, err := Memory(-1); err == nil {
		t.Error("Memory of pid -1: no error")
	}
}
