package kubelet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ImageEntrypoint is the ENTRYPOINT of the official Spark images (apache/spark-docker's
// entrypoint.sh). The PyPI packages do not ship it; Entrypoint emulates it.
const ImageEntrypoint = "/opt/entrypoint.sh"

// Entrypoint returns the argv a Spark-image container runs on this machine. command and args
// are expanded against the container's environment (env, unmapped: the values the container
// sees) with Kubernetes' $(VAR) rules. Without a command the image's ENTRYPOINT runs, which is
// also what a command of /opt/entrypoint.sh means; its three modes are emulated as
// apache/spark-docker's entrypoint.sh runs them (the same script for Spark 3.5 and 4.x):
//
//   - driver: $SPARK_HOME/bin/spark-submit --conf spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS
//     --conf spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS --deploy-mode client <rest>,
//     plus a --conf for each property of the --properties-file that names a mapped container path
//     (propertiesPathConfs: the executor pod template Spark mounts for the spark-operator);
//   - executor: $JAVA_HOME/bin/java <$SPARK_JAVA_OPT_* in the order bash lists them, by name>
//     -Xms$SPARK_EXECUTOR_MEMORY -Xmx$SPARK_EXECUTOR_MEMORY -cp <classpath>
//     org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend --driver-url … --podName …,
//     the classpath being [$SPARK_CONF_DIR or $SPARK_HOME/conf:][$HADOOP_CONF_DIR:]$SPARK_CLASSPATH:$SPARK_HOME/jars/*[:$SPARK_EXTRA_CLASSPATH]:<workdir>:$SPARK_DIST_CLASSPATH;
//   - anything else: the arguments themselves (pass-through).
//
// Every container path in command and args (mount paths, /opt/spark) is mapped with m, once;
// sparkHome is the pod's SPARK_HOME on this machine and workDir its working directory.
// mappedEnv is the container's environment with its paths mapped (what the process gets), from
// which the executor command is built.
func Entrypoint(c *corev1.Container, env, mappedEnv []EnvVar, m *Mapper, javaHome, sparkHome, workDir string) ([]string, error) {
	lookup := envLookup(env)
	var argv []string
	for _, s := range c.Command {
		argv = append(argv, Expand(s, lookup))
	}
	args := make([]string, 0, len(c.Args))
	for _, s := range c.Args {
		args = append(args, Expand(s, lookup))
	}
	if len(argv) == 0 || filepath.Clean(argv[0]) == ImageEntrypoint {
		var rest []string
		if len(argv) > 0 {
			rest = argv[1:]
		}
		rest = append(rest, args...)
		for i, a := range rest {
			rest[i] = m.String(a)
		}
		var err error
		if argv, err = emulateEntrypoint(rest, mappedEnv, javaHome, sparkHome, workDir); err != nil {
			return nil, err
		}
		if len(rest) > 0 && rest[0] == "driver" {
			// spark-submit's argv is [spark-submit --conf a --conf b --deploy-mode client …]:
			// the confs of mapped paths go after the entrypoint's own.
			extra, err := propertiesPathConfs(argv, m)
			if err != nil {
				return nil, err
			}
			argv = append(argv[:5:5], append(extra, argv[5:]...)...)
		}
		return argv, nil
	}
	argv = append(argv, args...)
	for i, a := range argv {
		argv[i] = m.String(a)
	}
	return argv, nil
}

func emulateEntrypoint(a []string, vars []EnvVar, javaHome, sparkHome, workDir string) ([]string, error) {
	env := envLookup(vars)
	if len(a) == 0 {
		return nil, errors.New("the image entrypoint needs arguments (driver, executor or a command)")
	}
	get := func(k string) string { v, _ := env(k); return v }
	switch a[0] {
	case "driver":
		bind := get("SPARK_DRIVER_BIND_ADDRESS")
		out := []string{filepath.Join(sparkHome, "bin", "spark-submit"),
			"--conf", "spark.driver.bindAddress=" + bind,
			"--conf", "spark.executorEnv.SPARK_DRIVER_POD_IP=" + bind,
			"--deploy-mode", "client"}
		return append(out, a[1:]...), nil
	case "executor":
		cp := get("SPARK_CLASSPATH") + ":" + filepath.Join(sparkHome, "jars", "*")
		if x := get("SPARK_EXTRA_CLASSPATH"); x != "" {
			cp += ":" + x
		}
		if _, ok := env("HADOOP_CONF_DIR"); ok {
			cp = get("HADOOP_CONF_DIR") + ":" + cp
		}
		if conf, ok := env("SPARK_CONF_DIR"); ok {
			cp = conf + ":" + cp
		} else {
			cp = filepath.Join(sparkHome, "conf") + ":" + cp
		}
		cp += ":" + workDir
		out := []string{filepath.Join(javaHome, "bin", "java")}
		out = append(out, javaOpts(vars)...)
		mem := get("SPARK_EXECUTOR_MEMORY")
		out = append(out, "-Xms"+mem, "-Xmx"+mem,
			"-cp", cp+":"+get("SPARK_DIST_CLASSPATH"),
			"org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
			"--driver-url", get("SPARK_DRIVER_URL"),
			"--executor-id", get("SPARK_EXECUTOR_ID"),
			"--cores", get("SPARK_EXECUTOR_CORES"),
			"--app-id", get("SPARK_APPLICATION_ID"),
			"--hostname", get("SPARK_EXECUTOR_POD_IP"),
			"--resourceProfileId", get("SPARK_RESOURCE_PROFILE_ID"),
			"--podName", get("SPARK_EXECUTOR_POD_NAME"))
		return out, nil
	}
	return append([]string(nil), a...), nil
}

// propertiesPathConfs returns a --conf for every property of the driver's --properties-file
// (the ConfigMap Spark mounts at /opt/spark/conf) whose value is a container path the Mapper
// maps, with the mapped path: Spark writes container paths into that file (the executor pod
// template it mounts at /opt/spark/pod-template, which the spark-operator always sets), and a
// command-line --conf beats the properties file. The file is java.util.Properties.store output.
func propertiesPathConfs(argv []string, m *Mapper) ([]string, error) {
	var file string
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == "--properties-file" {
			file = argv[i+1]
		}
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return nil, nil // spark-submit says so itself
	}
	if err != nil {
		return nil, fmt.Errorf("the driver's properties file: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		k, v := splitProperty(line)
		if strings.HasPrefix(v, "/") && m.Path(v) != v {
			out = append(out, "--conf", k+"="+m.Path(v))
		}
	}
	return out, nil
}

// splitProperty splits one line of java.util.Properties.store output at its first unescaped
// '=' or ':' and removes the backslash escapes (the \uXXXX escapes of non-ASCII characters are
// left as they are: no path Spark writes has them).
func splitProperty(line string) (key, value string) {
	var k, v strings.Builder
	cur := &k
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case cur == &k && (c == '=' || c == ':'):
			cur = &v
		default:
			cur.WriteByte(c)
		}
	}
	return strings.TrimSpace(k.String()), strings.TrimSpace(v.String())
}

// javaOpts returns the values of SPARK_JAVA_OPT_* in the order of their names, as bash's
// ${!SPARK_JAVA_OPT_@} lists them (lexically: _10 before _2).
func javaOpts(vars []EnvVar) []string {
	m := map[string]string{}
	var names []string
	for _, e := range vars {
		if strings.HasPrefix(e.Name, "SPARK_JAVA_OPT_") {
			if _, dup := m[e.Name]; !dup {
				names = append(names, e.Name)
			}
			m[e.Name] = e.Value
		}
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, m[n])
	}
	return out
}

// MapEnv maps the container paths inside every value (SPARK_CONF_DIR=/opt/spark/conf,
// SPARK_LOCAL_DIRS=/var/data/spark-…).
func MapEnv(env []EnvVar, m *Mapper) []EnvVar {
	out := make([]EnvVar, len(env))
	for i, e := range env {
		out[i] = EnvVar{e.Name, m.String(e.Value)}
	}
	return out
}

// IsDecommissionHook reports whether a preStop exec command is the Spark image's
// /opt/decom.sh, which the process kubelet emulates by sending SIGPWR to the JVM.
func IsDecommissionHook(cmd []string) bool {
	for _, c := range cmd {
		if strings.HasSuffix(c, "/decom.sh") || c == "decom.sh" {
			return true
		}
	}
	return false
}
