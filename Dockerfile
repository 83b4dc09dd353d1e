# syntax=docker/dockerfile:1
# One image with both sparkdra binaries, static (CGO_ENABLED=0), on a distroless base that has
# no shell and runs as the non-root user 65532. Build with Docker: make image-docker
# (IMAGE=sparkdra:latest). `make image` builds the same image without a daemon (image/build.go);
# image/image_test.go checks that the two agree on user, entrypoint, ports and binary paths.
# The manifests pick the binary with `command:`.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags='-s -w' -o /out/spark-dra-exporter ./cmd/spark-dra-exporter && \
    go build -ldflags='-s -w' -o /out/spark-dra-scaler ./cmd/spark-dra-scaler

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/spark-dra-exporter /out/spark-dra-scaler /usr/local/bin/
USER 65532:65532
# exporter /metrics; scaler gRPC and /metrics
EXPOSE 9141 9090 8080
ENTRYPOINT ["/usr/local/bin/spark-dra-exporter"]
