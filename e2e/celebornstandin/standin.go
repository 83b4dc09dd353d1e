// Package celebornstandin builds and describes the Apache Celeborn STAND-IN the e2e tests run
// real Spark with. It is not Celeborn: Celeborn's master and worker are published to no
// registry this project may use, so a real Celeborn cluster cannot run here. What sparkdra must
// get right is Spark's side (design.md, "What an executor holds"): Spark decides dynamic
// allocation from spark.shuffle.sort.io.plugin.class and that plugin's
// ShuffleDriverComponents.supportsReliableStorage(), never from where the bytes go. The
// stand-in (CelebornShuffleDataIO.java, compiled with javac against the PySpark jars) has
// Celeborn's ShuffleDataIO class name, writes shuffle data to local disk through Spark's own
// LocalDiskShuffleDataIO, and reports reliable storage.
package celebornstandin

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ClassName is the class the stand-in defines: Apache Celeborn's ShuffleDataIO for Spark 3.5+.
const ClassName = "org.apache.spark.shuffle.celeborn.CelebornShuffleDataIO"

//go:embed CelebornShuffleDataIO.java
var source []byte

// Conf returns the Spark properties that load the stand-in jar on the driver and the
// executors and select it as the shuffle plugin (as a Celeborn user sets
// spark.shuffle.sort.io.plugin.class).
func Conf(jar string) map[string]string {
	return map[string]string{
		"spark.shuffle.sort.io.plugin.class": ClassName,
		"spark.driver.extraClassPath":        jar,
		"spark.executor.extraClassPath":      jar,
	}
}

// BuildJar compiles the stand-in against sparkHome's jars (javac and jar from the JDK on PATH)
// into cacheDir/celeborn-standin-<hash>.jar, the hash covering the source and the Spark jars
// directory, and returns the jar's path. A jar already built for the same inputs is reused.
func BuildJar(ctx context.Context, sparkHome, cacheDir string) (string, error) {
	jars := filepath.Join(sparkHome, "jars")
	h := sha256.New()
	h.Write(source)
	h.Write([]byte(jars))
	jar := filepath.Join(cacheDir, "celeborn-standin-"+hex.EncodeToString(h.Sum(nil))[:16]+".jar")
	if _, err := os.Stat(jar); err == nil {
		return jar, nil
	}
	work, err := os.MkdirTemp(cacheDir, "celeborn-standin-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "CelebornShuffleDataIO.java")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", err
	}
	classes := filepath.Join(work, "classes")
	run := func(name string, args ...string) error {
		cmd := exec.CommandContext(ctx, name, args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, out.String())
		}
		return nil
	}
	if err := run("javac", "-nowarn", "-cp", filepath.Join(jars, "*"), "-d", classes, src); err != nil {
		return "", err
	}
	tmp := filepath.Join(work, "standin.jar")
	if err := run("jar", "cf", tmp, "-C", classes, "."); err != nil {
		return "", err
	}
	return jar, os.Rename(tmp, jar)
}
