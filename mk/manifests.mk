# Kubernetes manifests and the container image (room: manifests/, Dockerfile).
#
#   make image            build the image with both binaries (needs a Docker engine; IMAGE=sparkdra:latest)
#   make manifests-test   render every kustomization with kustomize's Go API and strictly decode
#                         each object (also part of `make unit`)

IMAGE ?= sparkdra:latest
DOCKER ?= docker

.PHONY: image manifests-test

image:
	$(DOCKER) build -t $(IMAGE) .

manifests-test:
	$(GO) test -count=1 ./manifests/ ./dashboards/...
