package externalscaler

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// AddressRule is one --prometheus.allowed-address: a URL prefix that a
// ScaledObject's prometheusAddress may name. Anyone who may create a
// ScaledObject chooses its prometheusAddress, so the scaler queries only
// addresses its operator allowed (no rule: none), and never with its own
// --prometheus.http-config-file credentials (docs/scaler.md, "Where the data
// comes from").
//
// A rule is an absolute http:// or https:// URL without user info, query or
// fragment, e.g. https://mimir.monitoring.svc:8080/prometheus. An address
// matches when its scheme and host are the rule's (host case-insensitive; an
// omitted port is the scheme's default, 80 or 443) and its cleaned path is the
// rule's path or below it: /prometheus allows /prometheus and
// /prometheus/tenant-a, not /prometheus-other nor /prometheus/../admin.
type AddressRule struct {
	raw    string
	scheme string
	host   string // lower-case host:port, port made explicit
	path   string // cleaned, without a trailing slash ("" for the root)
}

// ParseAddressRule parses one --prometheus.allowed-address value.
func ParseAddressRule(s string) (AddressRule, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return AddressRule{}, err
	}
	if err := plainHTTPURL(u); err != nil {
		return AddressRule{}, err
	}
	return AddressRule{raw: s, scheme: u.Scheme, host: hostPort(u), path: cleanPath(u.Path)}, nil
}

// String returns the rule as written.
func (r AddressRule) String() string { return r.raw }

// Allows reports whether the URL u falls under the rule.
func (r AddressRule) Allows(u *url.URL) bool {
	if u == nil || u.Scheme != r.scheme || u.User != nil || hostPort(u) != r.host {
		return false
	}
	p := cleanPath(u.Path)
	return p == r.path || strings.HasPrefix(p, r.path+"/")
}

// AddressRules are the --prometheus.allowed-address rules of one scaler.
type AddressRules []AddressRule

// Check returns nil when address (a ScaledObject's prometheusAddress) is
// allowed; else an error that names the rules it was checked against.
func (rs AddressRules) Check(address string) error {
	u, err := url.Parse(address)
	if err != nil {
		return err
	}
	if u.User != nil {
		return errors.New("user info in the URL is refused: credentials in trigger metadata are readable by anyone who can read the ScaledObject, and the scaler supports no per-ScaledObject credentials")
	}
	if len(rs) == 0 {
		return errors.New("refused: this scaler allows no per-ScaledObject Prometheus address (no --prometheus.allowed-address)")
	}
	for _, r := range rs {
		if r.Allows(u) {
			return nil
		}
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.raw
	}
	return fmt.Errorf("refused: matches no --prometheus.allowed-address (%s)", strings.Join(names, ", "))
}

// Transport returns a RoundTripper that sends a request only when its URL is
// allowed by one of the rules, and fails it otherwise. Every request of a
// per-ScaledObject source goes through it, so an allowed server cannot
// redirect the scaler to an address no rule allows.
func (rs AddressRules) Transport(next http.RoundTripper) http.RoundTripper {
	return rulesTransport{rs, next}
}

type rulesTransport struct {
	rules AddressRules
	next  http.RoundTripper
}

func (t rulesTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := t.rules.Check(r.URL.String()); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("request to %s: %w", r.URL.Redacted(), err)
	}
	return t.next.RoundTrip(r)
}

// plainHTTPURL accepts absolute http(s) URLs with a host and nothing that
// would carry credentials or change the meaning of a prefix.
func plainHTTPURL(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return errors.New("want an absolute http:// or https:// URL")
	case u.User != nil:
		return errors.New("user info is not allowed")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("query and fragment are not allowed")
	}
	return nil
}

// hostPort is u's lower-case host with the port made explicit.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// cleanPath resolves . and .. and drops the trailing slash; "" is the root.
func cleanPath(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return ""
	}
	return p
}
