package main

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image is, kept in agreement with ../Dockerfile (TestDockerfileAgrees).
const (
	// User is the non-root user and group the image runs as (distroless' "nonroot").
	User = "65532:65532"
	// BinDir is where both binaries live.
	BinDir = "/usr/local/bin"
)

// Binaries are the commands the image carries, built from ../cmd/<name>.
var Binaries = []string{"spark-dra-exporter", "spark-dra-scaler"}

// Entrypoint runs the exporter; the manifests pick the binary with `command:`.
var Entrypoint = []string{BinDir + "/spark-dra-exporter"}

// Ports are the exporter's /metrics (9141), the scaler's gRPC (9090) and /metrics (8080).
var Ports = []string{"9141/tcp", "9090/tcp", "8080/tcp"}

// Options say what to build and from where.
type Options struct {
	// Repo is the root of the sparkdra checkout.
	Repo string
	// GOARCH of the binaries and the image (linux only).
	GOARCH string
	// Created is the image's creation time, and the time of every file in it: the commit's time
	// makes the digest a function of the commit.
	Created time.Time
	// Revision and Version fill org.opencontainers.image.revision and .version.
	Revision, Version string
	// Go is the go command.
	Go string
}

// Build compiles the binaries (static, -trimpath, as the Dockerfile does) and assembles the
// image from scratch: one layer with the binaries, /etc/passwd and /etc/group naming the
// nonroot user, its home and /tmp. There is no shell. Two builds with the same Options from the
// same source give the same digest.
func Build(ctx context.Context, o Options) (v1.Image, error) {
	dir, err := os.MkdirTemp("", "sparkdra-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{}
	for _, b := range Binaries {
		out := filepath.Join(dir, b)
		cmd := exec.CommandContext(ctx, o.Go, "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./cmd/"+b)
		cmd.Dir = o.Repo
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+o.GOARCH)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", b, err, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			return nil, err
		}
		files[BinDir+"/"+b] = data
	}
	layerTar, err := rootfs(files, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:     layer,
		History:   v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "sparkdra image/build.go", Comment: "spark-dra-exporter, spark-dra-scaler, nonroot user"},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = o.GOARCH, "linux"
	cf.Created = v1.Time{Time: o.Created}
	ports := map[string]struct{}{}
	for _, p := range Ports {
		ports[p] = struct{}{}
	}
	cf.Config = v1.Config{
		User:         User,
		Entrypoint:   Entrypoint,
		ExposedPorts: ports,
		Env:          []string{"PATH=" + BinDir + ":/usr/bin:/bin"},
		WorkingDir:   "/",
		Labels: map[string]string{
			"org.opencontainers.image.title":       "sparkdra",
			"org.opencontainers.image.description": "spark-dra-exporter and spark-dra-scaler: Spark dynamic resource allocation for KEDA",
			"org.opencontainers.image.source":      "https://github.com/sparkdra/sparkdra",
			"org.opencontainers.image.url":         "https://github.com/sparkdra/sparkdra",
			"org.opencontainers.image.licenses":    "Apache-2.0",
			"org.opencontainers.image.revision":    o.Revision,
			"org.opencontainers.image.version":     o.Version,
			"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
		},
	}
	return mutate.ConfigFile(img, cf)
}

// rootfs is the image's only layer: directories, the nonroot user's passwd and group entries,
// and files (path → content, all executable), every entry owned by root except the user's home
// and dated mtime. Entries are sorted so the tar is the same byte for byte every time.
func rootfs(files map[string][]byte, mtime time.Time) ([]byte, error) {
	uid, gid := 65532, 65532
	type entry struct {
		hdr  tar.Header
		data []byte
	}
	entries := map[string]entry{}
	dir := func(p string, mode int64, owner int) {
		entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(p, "/") + "/", Mode: mode, Uid: owner, Gid: owner}}
	}
	file := func(p string, mode int64, data []byte) {
		for d := filepath.Dir(p); d != "/"; d = filepath.Dir(d) {
			if _, ok := entries[d]; !ok {
				dir(d, 0o755, 0)
			}
		}
		entries[p] = entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(p, "/"), Mode: mode, Size: int64(len(data))}, data: data}
	}
	dir("/tmp", 0o1777, 0)
	dir("/home", 0o755, 0)
	dir("/home/nonroot", 0o700, uid)
	file("/etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:"+strconv.Itoa(uid)+":"+strconv.Itoa(gid)+":nonroot:/home/nonroot:/sbin/nologin\n"))
	file("/etc/group", 0o644, []byte("root:x:0:\nnonroot:x:"+strconv.Itoa(gid)+":\n"))
	for p, data := range files {
		file(p, 0o755, data)
	}
	paths := make([]string, 0, len(entries))
	for p := range entries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		e := entries[p]
		e.hdr.ModTime = mtime.UTC().Truncate(time.Second)
		e.hdr.Format = tar.FormatPAX
		if e.hdr.Uid != 0 {
			e.hdr.Uname, e.hdr.Gname = "nonroot", "nonroot"
		} else {
			e.hdr.Uname, e.hdr.Gname = "root", "root"
		}
		if err := tw.WriteHeader(&e.hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Write stores img as an OCI image layout in dir/oci (tagged ref in its index) and as a
// tarball `docker load` reads, dir/sparkdra.tar.
func Write(img v1.Image, dir, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	ociDir := filepath.Join(dir, "oci")
	if err := os.RemoveAll(ociDir); err != nil {
		return err
	}
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.TagStr()})); err != nil {
		return err
	}
	return tarball.WriteToFile(filepath.Join(dir, "sparkdra.tar"), tag, img)
}
