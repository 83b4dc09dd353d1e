package sparkcluster

import (
	"context"
	"fmt"
	"net"
	"net/url"
)

// DriverApp is one row of a live driver's `/api/v1/applications` (there is exactly one).
type DriverApp struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// DriverExecutor is the part of a row of `/api/v1/applications/{id}/executors` the harness reads.
type DriverExecutor struct {
	// ID is the executor id, or "driver" for the driver's own row.
	ID string `json:"id"`
	// HostPort is host:port of the executor's block manager; the host is its worker's address.
	HostPort    string `json:"hostPort"`
	IsActive    bool   `json:"isActive"`
	ActiveTasks int    `json:"activeTasks"`
	// FailedTasks counts task attempts that failed on this executor, cumulative.
	FailedTasks    int `json:"failedTasks"`
	CompletedTasks int `json:"completedTasks"`
	RDDBlocks      int `json:"rddBlocks"`
}

// Host is the host part of HostPort ("" when HostPort is malformed).
func (e DriverExecutor) Host() string {
	h, _, err := net.SplitHostPort(e.HostPort)
	if err != nil {
		return ""
	}
	return h
}

// DriverAppID returns the id of the application a live driver UI serves.
func DriverAppID(ctx context.Context, uiURL string) (string, error) {
	var apps []DriverApp
	if err := GetJSON(ctx, uiURL+"/api/v1/applications", &apps); err != nil {
		return "", err
	}
	if len(apps) == 0 {
		return "", fmt.Errorf("%s lists no application", uiURL)
	}
	return apps[0].ID, nil
}

// DriverExecutors returns the executors of a live application, without the driver row.
func DriverExecutors(ctx context.Context, uiURL, appID string) ([]DriverExecutor, error) {
	var all []DriverExecutor
	if err := GetJSON(ctx, uiURL+"/api/v1/applications/"+url.PathEscape(appID)+"/executors", &all); err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		if e.ID != "driver" {
			out = append(out, e)
		}
	}
	return out, nil
}

// ExecutorHosts maps executor id → worker host for the executors of a live application.
func ExecutorHosts(ctx context.Context, uiURL, appID string) (map[string]string, error) {
	execs, err := DriverExecutors(ctx, uiURL, appID)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(execs))
	for _, e := range execs {
		if h := e.Host(); h != "" {
			m[e.ID] = h
		}
	}
	return m, nil
}
