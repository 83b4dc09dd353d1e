package exporter

import "net/http"

// RequestsPerPoll is how many REST requests one poll of a driver has in flight at once in steady
// state (active stages, executors, running jobs, /metrics/json; the first poll of an application
// adds its environment and stored RDDs).
const RequestsPerPoll = 4

// NewTransport returns the HTTP transport for polling drivers with at most maxConcurrent polls at
// once. Idle connections are kept for every request those polls can have in flight, also to a
// single host:port: many drivers can sit behind one address (a standalone master's
// /proxy/<appId>, an ingress), and a pool smaller than the concurrent requests closes and
// reopens connections on every cycle.
func NewTransport(maxConcurrent int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(1, maxConcurrent) * RequestsPerPoll
	t.MaxIdleConns = t.MaxIdleConnsPerHost
	return t
}
