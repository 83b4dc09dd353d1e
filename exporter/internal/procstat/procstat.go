// Package procstat reads a Linux process's CPU time and memory from /proc, for the exporter's
// load and peer harnesses (which measure a child process, not themselves).
package procstat

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPU returns the user plus system CPU time the process pid has used (/proc/<pid>/stat, fields
// 14 and 15, in clock ticks of 10 ms: USER_HZ is 100 on Linux). Errors: the file cannot be read
// or its fields are missing or not numbers.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from its end.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// Memory returns the resident set size now (VmRSS) and its peak (VmHWM) of the process pid, in
// kB, from /proc/<pid>/status. Errors: the file cannot be read or has no VmRSS line.
func Memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		var v int64
		if _, e := fmt.Sscanf(l, "VmRSS: %d kB", &v); e == nil {
			rss = v
		}
		if _, e := fmt.Sscanf(l, "VmHWM: %d kB", &v); e == nil {
			hwm = v
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, hwm, nil
}
