package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func testOptions() Options {
	return Options{Repo: "..", GOARCH: runtime.GOARCH, Go: "go", Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Revision: "0123456789abcdef0123456789abcdef01234567", Version: "v0.0.0-test"}
}

// TestImage builds the image twice and inspects it: config, file list, user, static binaries,
// the same digest both times, and the same image read back from the layout and the tarball.
func TestImage(t *testing.T) {
	ctx := t.Context()
	img, err := Build(ctx, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("config", func(t *testing.T) {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "65532:65532" {
			t.Errorf("user %q, want 65532:65532", c.User)
		}
		if want := []string{"/usr/local/bin/spark-dra-exporter"}; !slices.Equal(c.Entrypoint, want) {
			t.Errorf("entrypoint %q, want %q", c.Entrypoint, want)
		}
		var ports []string
		for p := range c.ExposedPorts {
			ports = append(ports, p)
		}
		sort.Strings(ports)
		if want := []string{"8080/tcp", "9090/tcp", "9141/tcp"}; !slices.Equal(ports, want) {
			t.Errorf("ports %v, want %v", ports, want)
		}
		if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
			t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.revision": testOptions().Revision,
			"org.opencontainers.image.version":  "v0.0.0-test",
			"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
			"org.opencontainers.image.source":   "https://github.com/sparkdra/sparkdra",
			"org.opencontainers.image.title":    "sparkdra",
			"org.opencontainers.image.licenses": "Apache-2.0",
		} {
			if got := c.Labels[k]; got != want {
				t.Errorf("label %s = %q, want %q", k, got, want)
			}
		}
		if !cf.Created.Time.Equal(testOptions().Created) {
			t.Errorf("created %v", cf.Created)
		}
		mt, err := img.MediaType()
		if err != nil || mt != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("manifest media type %q (%v), want OCI", mt, err)
		}
	})

	t.Run("files", func(t *testing.T) {
		files := map[string]*tar.Header{}
		contents := map[string][]byte{}
		tr := tar.NewReader(mutate.Extract(img))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = h
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				contents[h.Name] = b
			}
		}
		var names []string
		for n := range files {
			names = append(names, n)
		}
		sort.Strings(names)
		// mutate.Extract cleans the names: directories lose their trailing slash.
		want := []string{"etc", "etc/group", "etc/passwd", "home", "home/nonroot", "tmp", "usr", "usr/local",
			"usr/local/bin", "usr/local/bin/spark-dra-exporter", "usr/local/bin/spark-dra-scaler"}
		if !slices.Equal(names, want) {
			t.Errorf("files:\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
		}
		for _, n := range names {
			if strings.HasSuffix(n, "sh") || strings.Contains(n, "busybox") {
				t.Errorf("%s: the image has a shell", n)
			}
			if !files[n].ModTime.Equal(testOptions().Created) {
				t.Errorf("%s dated %v, want the commit's time", n, files[n].ModTime)
			}
		}
		if !strings.Contains(string(contents["etc/passwd"]), "nonroot:x:65532:65532:") {
			t.Errorf("/etc/passwd has no nonroot user 65532:\n%s", contents["etc/passwd"])
		}
		if h := files["home/nonroot"]; h == nil || h.Uid != 65532 {
			t.Errorf("/home/nonroot is not owned by 65532")
		}
		if h := files["tmp"]; h == nil || h.Mode&0o1777 != 0o1777 {
			t.Errorf("/tmp is not world-writable with the sticky bit")
		}
		for _, b := range Binaries {
			n := "usr/local/bin/" + b
			if files[n] == nil || files[n].Mode&0o111 == 0 || files[n].Uid != 0 {
				t.Errorf("%s missing, not executable or not owned by root", n)
				continue
			}
			f, err := elf.NewFile(bytes.NewReader(contents[n]))
			if err != nil {
				t.Errorf("%s: not an ELF binary: %v", n, err)
				continue
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
					t.Errorf("%s is dynamically linked", n)
				}
			}
		}
	})

	t.Run("reproducible", func(t *testing.T) {
		again, err := Build(ctx, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		d2, err := again.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if d2 != digest {
			t.Errorf("two builds of the same source: %s and %s", digest, d2)
		}
		later := testOptions()
		later.Created = later.Created.Add(time.Second)
		other, err := Build(ctx, later)
		if err != nil {
			t.Fatal(err)
		}
		if d3, _ := other.Digest(); d3 == digest {
			t.Errorf("another commit time gave the same digest %s", d3)
		}
	})

	t.Run("layout and tarball", func(t *testing.T) {
		dir := t.TempDir()
		if err := Write(img, dir, "sparkdra:test"); err != nil {
			t.Fatal(err)
		}
		idx, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Manifests) != 1 || m.Manifests[0].Digest != digest ||
			m.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "test" {
			t.Errorf("layout index %+v, want one image %s named test", m.Manifests, digest)
		}
		fromTar, err := tarball.ImageFromPath(filepath.Join(dir, "sparkdra.tar"), nil)
		if err != nil {
			t.Fatal(err)
		}
		// docker's tarball keeps the config and the layers, not the manifest: compare those.
		cn, err := fromTar.ConfigName()
		if want, _ := img.ConfigName(); err != nil || cn != want {
			t.Errorf("tarball: config %s (%v), want %s", cn, err, want)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range layers {
			id, _ := l.DiffID()
			if _, err := fromTar.LayerByDiffID(id); err != nil {
				t.Errorf("tarball: layer %s: %v", id, err)
			}
		}
		var manifest []struct{ RepoTags []string }
		if err := json.Unmarshal(mustTarFile(t, filepath.Join(dir, "sparkdra.tar"), "manifest.json"), &manifest); err != nil {
			t.Fatal(err)
		}
		if len(manifest) != 1 || !slices.Equal(manifest[0].RepoTags, []string{"sparkdra:test"}) {
			t.Errorf("docker manifest.json %+v, want one image tagged sparkdra:test", manifest)
		}
	})
}

func mustTarFile(t *testing.T, path, name string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s in %s: %v", name, path, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

// TestDockerfileAgrees reads ../Dockerfile's final stage: the user, the entrypoint, the ports
// and where the binaries go must be the image's.
func TestDockerfileAgrees(t *testing.T) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var user, entrypoint, copyDest string
	var ports []string
	stages := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kw, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(kw) {
		case "FROM":
			stages++
			user, entrypoint, copyDest, ports = "", "", "", nil // only the final stage counts
		case "USER":
			user = rest
		case "ENTRYPOINT":
			entrypoint = rest
		case "EXPOSE":
			for _, p := range strings.Fields(rest) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				ports = append(ports, p)
			}
		case "COPY":
			if !strings.HasPrefix(rest, "--from") {
				continue // the build stage's sources
			}
			fields := strings.Fields(rest)
			copyDest = fields[len(fields)-1]
			for _, b := range Binaries {
				if !strings.Contains(rest, "/"+b) {
					t.Errorf("the final stage's COPY does not copy %s: %s", b, line)
				}
			}
		}
	}
	if stages < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", stages)
	}
	if user != User {
		t.Errorf("Dockerfile USER %q, image %q", user, User)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || !slices.Equal(ep, Entrypoint) {
		t.Errorf("Dockerfile ENTRYPOINT %s (%v), image %q", entrypoint, err, Entrypoint)
	}
	sort.Strings(ports)
	want := slices.Clone(Ports)
	sort.Strings(want)
	if !slices.Equal(ports, want) {
		t.Errorf("Dockerfile EXPOSE %v, image %v", ports, want)
	}
	if strings.TrimSuffix(copyDest, "/") != BinDir {
		t.Errorf("Dockerfile copies the binaries to %s, the image has them in %s", copyDest, BinDir)
	}
}
