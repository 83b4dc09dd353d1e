package main

import "testing"

// Bad flags are reported, all at once, and exit with status 2 before anything starts.
func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--spark.driver-url=ftp://x", "--spark.poll-interval=0s"},
		{"--no-such-flag"},
	} {
		if code := run(args); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}
