// Module image builds sparkdra's OCI image without a container daemon (make image), with
// go-containerregistry. It is a separate module so that the project's own go.mod stays free of
// go-containerregistry's dependencies.
module github.com/sparkdra/sparkdra/image

go 1.26.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
	golang.org/x/sync v0.22.0 // indirect
)
