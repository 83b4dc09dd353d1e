package sparkcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MasterState is the part of the standalone Master's `/json/` page the harness reads.
type MasterState struct {
	// URL is the master's RPC address, spark://host:port.
	URL string `json:"url"`
	// Status is ALIVE once the master is serving.
	Status string `json:"status"`
	// Workers lists every worker the master knows, dead ones included (State tells).
	Workers []MasterWorker `json:"workers"`
	// AliveWorkers counts workers in state ALIVE.
	AliveWorkers int `json:"aliveworkers"`
	// ActiveApps lists the applications running now.
	ActiveApps []MasterApp `json:"activeapps"`
}

// MasterWorker is one worker row of the master's `/json/`.
type MasterWorker struct {
	// ID is the master's worker id, worker-<yyyyMMddHHmmss>-<host>-<port>.
	ID   string `json:"id"`
	Host string `json:"host"`
	Port int    `json:"port"`
	// WebUIAddress is the worker's UI, http://host:port; its `/json/` lists the executors it runs.
	WebUIAddress string `json:"webuiaddress"`
	Cores        int    `json:"cores"`
	CoresUsed    int    `json:"coresused"`
	// State is ALIVE, DEAD, DECOMMISSIONED or UNKNOWN.
	State string `json:"state"`
}

// MasterApp is one application row of the master's `/json/`.
type MasterApp struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Cores int    `json:"cores"`
	State string `json:"state"`
}

// AliveWorker returns the ALIVE worker the master lists for host, if any.
func (s MasterState) AliveWorker(host string) (MasterWorker, bool) {
	for _, w := range s.Workers {
		if w.Host == host && w.State == "ALIVE" {
			return w, true
		}
	}
	return MasterWorker{}, false
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// GetJSON fetches url and decodes its JSON body into out. Non-2xx answers are errors that quote the
// start of the body.
func GetJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode/100 != 2 {
		if len(body) > 200 {
			body = body[:200]
		}
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return nil
}
