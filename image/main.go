// Command image is `make image`: it builds sparkdra's OCI image without a container daemon.
// Both static binaries on an empty base, user 65532, no shell, the exporter as entrypoint and
// the org.opencontainers.image.* labels; written as an OCI image layout (out/oci) and a tarball
// for `docker load` (out/sparkdra.tar). The image is reproducible: its files and its creation
// time are dated by the commit (SOURCE_DATE_EPOCH overrides), so the same commit built with the
// same Go toolchain gives the same digest. ../Dockerfile builds the same image with Docker.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	repo := flag.String("repo", "..", "root of the sparkdra checkout")
	out := flag.String("out", "../out/image", "output directory (oci/ and sparkdra.tar)")
	tag := flag.String("tag", "sparkdra:latest", "image reference written into the tarball and the layout's index")
	arch := flag.String("arch", runtime.GOARCH, "GOARCH of the image")
	flag.Parse()
	if err := run(context.Background(), *repo, *out, *tag, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, repo, out, tag, arch string) error {
	o, err := optionsFromGit(ctx, repo, arch)
	if err != nil {
		return err
	}
	img, err := Build(ctx, o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := Write(img, out, tag); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("image %s %s (revision %s, created %s): %s/oci, %s/sparkdra.tar\n",
		tag, digest, o.Revision, o.Created.Format(time.RFC3339), out, out)
	return nil
}

// optionsFromGit dates the image by the commit (or SOURCE_DATE_EPOCH) and labels it with the
// commit and `git describe`.
func optionsFromGit(ctx context.Context, repo, arch string) (Options, error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = repo
		b, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	o := Options{Repo: repo, GOARCH: arch, Go: "go"}
	if g := os.Getenv("GO"); g != "" {
		o.Go = g
	}
	var err error
	if o.Revision, err = git("rev-parse", "HEAD"); err != nil {
		return o, err
	}
	if o.Version, err = git("describe", "--tags", "--always", "--dirty"); err != nil {
		return o, err
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		if epoch, err = git("log", "-1", "--format=%ct"); err != nil {
			return o, err
		}
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil {
		return o, fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", epoch, err)
	}
	o.Created = time.Unix(secs, 0).UTC()
	return o, nil
}
