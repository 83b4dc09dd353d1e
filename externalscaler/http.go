package externalscaler

import (
	"encoding/json"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves the scaler's HTTP side:
//
//   - GET /decisions: every tracked ScaledObject's latest decision as a JSON
//     array of DecisionRecord (observation used, target, max-needed,
//     desired, ramp step, the executors chosen for removal with their host,
//     and why each other executor is kept);
//   - GET /decisions/{namespace}/{name}: one of them (404 if unknown);
//   - GET /metrics: gatherer's metrics (the self-metrics);
//   - GET /healthz: 200 "ok" while the process serves (liveness: a data
//     outage must not restart the scaler);
//   - GET /readyz: 200 "ok" while every tracked ScaledObject has a usable
//     decision, else 503 with the first reason (the gRPC health service
//     says the same with NOT_SERVING).
func (s *Server) Handler(gatherer prometheus.Gatherer) http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/decisions", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.Decisions())
	}).Methods(http.MethodGet)
	r.HandleFunc("/decisions/{namespace}/{name}", func(w http.ResponseWriter, req *http.Request) {
		v := mux.Vars(req)
		rec := s.Decision(ObjectKey{Namespace: v["namespace"], Name: v["name"]})
		if rec == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no decision for this ScaledObject (unknown, or no tick yet)"})
			return
		}
		writeJSON(w, http.StatusOK, rec)
	}).Methods(http.MethodGet)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	}).Methods(http.MethodGet)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		for _, rec := range s.Decisions() {
			if rec.unavailable != nil {
				http.Error(w, rec.ScaledObject.String()+": "+rec.Error, http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("ok\n"))
	}).Methods(http.MethodGet)
	if gatherer != nil {
		r.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	}
	return r
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
