package exporter

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRouter serves the metrics of g at telemetryPath, /healthz (200 while the process runs) and
// /readyz (200 once ready() is true: every discovery source has reported), and a short landing
// page at /.
func NewRouter(g prometheus.Gatherer, telemetryPath string, ready func() bool, logger *slog.Logger) http.Handler {
	r := mux.NewRouter()
	r.Handle(telemetryPath, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
	})).Methods(http.MethodGet)
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
