package main

// The image `make image` builds (image/) starts from scratch and carries no CA bundle: this
// embeds Mozilla's root certificates, which crypto/x509 uses only when the system has none (TLS
// to Spark drivers, Prometheus, the Kubernetes API outside the cluster). With a system bundle,
// as in the Dockerfile's distroless base, the system's roots are used.
import _ "golang.org/x/crypto/x509roots/fallback"
