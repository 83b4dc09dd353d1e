package exporter

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sparkdra/sparkdra/exporter/sparkapi"
)

// Discoverer finds drivers. Run sends the full set of its targets on every change (at least
// once, even if empty) until ctx ends.
type Discoverer interface {
	Run(ctx context.Context, updates chan<- TargetUpdate)
}

// ParseDriverURL checks a static driver URL (http or https, with a host; a path prefix is kept
// for drivers behind a proxy) and returns its Target.
func ParseDriverURL(raw string) (Target, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return Target{}, fmt.Errorf("driver URL %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Target{}, fmt.Errorf("driver URL %q: want http(s)://host:port[/prefix]", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return Target{Key: u.String(), Source: SourceStatic, BaseURL: u}, nil
}

// StaticDiscoverer sends a fixed list of targets once.
type StaticDiscoverer struct{ Targets []Target }

// Run sends the targets and waits for ctx to end.
func (s StaticDiscoverer) Run(ctx context.Context, updates chan<- TargetUpdate) {
	select {
	case updates <- TargetUpdate{Source: SourceStatic, Targets: s.Targets}:
	case <-ctx.Done():
	}
}

// StandaloneDiscoverer lists the running applications of Spark standalone masters (their /json)
// and polls each through the master's reverse proxy, /proxy/<appId>. The master must run with
// spark.ui.reverseProxy=true (so must the applications, for the proxy to know their UI).
type StandaloneDiscoverer struct {
	Masters  []*url.URL
	Client   *sparkapi.Client
	Interval time.Duration // time between two reads of /json
	Timeout  time.Duration // per request
	Logger   *slog.Logger
}

// Run reads the masters every Interval and sends the union of their running applications. A
// master that cannot be read keeps its previous applications until it answers again.
func (s StandaloneDiscoverer) Run(ctx context.Context, updates chan<- TargetUpdate) {
	last := make(map[string][]Target)
	tick := time.NewTicker(s.Interval)
	defer tick.Stop()
	for {
		for _, m := range s.Masters {
			ts, err := s.list(ctx, m)
			if err != nil {
				if ctx.Err() == nil {
					s.Logger.Warn("reading standalone master", "master", m.String(), "err", err)
				}
				continue
			}
			last[m.String()] = ts
		}
		var all []Target
		for _, ts := range last {
			all = append(all, ts...)
		}
		sort.Slice(all, func(i, j int) bool { return all[i].Key < all[j].Key })
		select {
		case updates <- TargetUpdate{Source: SourceStandalone, Targets: all}:
		case <-ctx.Done():
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (s StandaloneDiscoverer) list(ctx context.Context, master *url.URL) ([]Target, error) {
	rctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	u := *master
	u.Path = strings.TrimSuffix(u.Path, "/") + "/json/"
	var st sparkapi.MasterState
	if err := s.Client.GetURL(rctx, u.String(), &st); err != nil {
		return nil, err
	}
	var out []Target
	for _, app := range st.ActiveApps {
		if app.ID == "" || (app.State != "" && app.State != "RUNNING") {
			continue
		}
		base := *master
		base.Path = strings.TrimSuffix(base.Path, "/") + "/proxy/" + url.PathEscape(app.ID)
		out = append(out, Target{
			Key:     master.String() + "/proxy/" + app.ID,
			Source:  SourceStandalone,
			BaseURL: &base,
			AppID:   app.ID,
			AppName: app.Name,
		})
	}
	return out, nil
}
