package exporter

import (
	"net/url"
)

// Discovery sources, the `source` label of spark_dra_exporter_targets.
const (
	SourceStatic     = "static"
	SourceKubernetes = "kubernetes"
	SourceStandalone = "standalone"
)

// Target is one Spark driver to poll.
type Target struct {
	// Key identifies the target across discovery updates and is its `driver` label: the URL for
	// a static target, namespace/pod on Kubernetes, master URL and app id for standalone.
	Key string
	// Source is the discovery that found it (SourceStatic, …).
	Source string
	// BaseURL is the UI root the REST API hangs under: http://host:4040, or a proxy prefix such
	// as http://master:8080/proxy/<appId>.
	BaseURL *url.URL
	// AppID and AppName are known before the first poll for Kubernetes pods (labels) and
	// standalone applications (the master); "" otherwise.
	AppID, AppName string
	// Namespace and Pod are set for Kubernetes targets and become labels.
	Namespace, Pod string
}

// sameEndpoint reports whether a and b poll the same application at the same address.
func (t Target) sameEndpoint(o Target) bool {
	return t.BaseURL.String() == o.BaseURL.String() && t.AppID == o.AppID
}
