# Kubernetes manifests and the container image (room: manifests/, Dockerfile).
#
#   make image            build the OCI image with both binaries without a container daemon
#                         (image/, go-containerregistry, its own go.mod): out/image/oci (an OCI
#                         image layout) and out/image/sparkdra.tar (`docker load -i`); the same
#                         commit gives the same digest. IMAGE=sparkdra:latest names it.
#   make image-test       builds the image twice in a test and inspects it (config, files, user,
#                         static binaries, digest), and checks the Dockerfile agrees (make test).
#                         Warm about 1 min; from an empty build cache it cross-builds both
#                         binaries three times over (cached after the first), which exceeded go
#                         test's default 10 min on a machine at load 40-60: hence -timeout 20m
#   make image-docker     the same image with a Docker engine, from the Dockerfile
#   make manifests-test   render every kustomization with kustomize's Go API and strictly decode
#                         each object (also part of `make unit`)

IMAGE ?= sparkdra:latest
IMAGE_OUT ?= $(CURDIR)/out/image
DOCKER ?= docker

.PHONY: image image-test image-docker manifests-test

image:
	cd image && GO="$(GO)" $(GO) run . -repo "$(CURDIR)" -out "$(IMAGE_OUT)" -tag "$(IMAGE)"

image-test:
	cd image && $(GO) vet ./... && $(GO) test -count=1 -timeout 20m ./...

TEST_TARGETS += image-test

image-docker:
	$(DOCKER) build -t $(IMAGE) .

manifests-test:
	$(GO) test -count=1 ./manifests/ ./dashboards/...
