package exporter

import (
	"fmt"
	"net/http"

	"github.com/gorilla/mux"
)

// NewRouter serves metrics at telemetryPath, /healthz (200 while the process runs) and
// /readyz (200 once ready() is true: every discovery source has reported), and a short landing
// page at /.
func NewRouter(metrics http.Handler, telemetryPath string, ready func() bool) http.Handler {
	r := mux.NewRouter()
	r.Handle(telemetryPath, metrics).Methods(http.MethodGet)
	r.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}).Methods(http.MethodGet)
	r.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "waiting for driver discovery", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	}).Methods(http.MethodGet)
	r.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<html><head><title>spark-dra-exporter</title></head><body><h1>spark-dra-exporter</h1>"+
			"<p><a href=%q>Metrics</a> · <a href=\"/healthz\">healthz</a> · <a href=\"/readyz\">readyz</a></p></body></html>\n",
			telemetryPath)
	}).Methods(http.MethodGet)
	return r
}
