// Command gen writes sparkdra's generated dashboards, rule files and manifests (see package
// dashboards) under the repository root.
//
//	go run ./dashboards/cmd/gen [-root .] [-config thresholds.yaml]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/sparkdra/sparkdra/dashboards"
)

func main() { os.Exit(run()) }

func run() int {
	root := flag.String("root", ".", "repository root to write the generated files under")
	configPath := flag.String("config", "", "YAML file overriding dashboards.DefaultConfig (selectors, thresholds); empty for the defaults")
	flag.Parse()

	cfg := dashboards.DefaultConfig()
	if *configPath != "" {
		var err error
		if cfg, err = dashboards.LoadConfig(*configPath); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			return 1
		}
	}
	files, err := dashboards.Generate(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		return 1
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(*root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			return 1
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			return 1
		}
		fmt.Println("wrote", p)
	}
	return 0
}
