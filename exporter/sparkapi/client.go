package sparkapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
)

// Reason says in one word why a request failed; it is the `reason` label of the exporter's
// error counter.
type Reason string

// The reasons a request fails.
const (
	ReasonTimeout      Reason = "timeout"      // the deadline passed
	ReasonConnection   Reason = "connection"   // refused, reset, DNS: the driver is gone or unreachable
	ReasonNotFound     Reason = "not_found"    // 404: wrong or finished application
	ReasonForbidden    Reason = "forbidden"    // 403: UI ACLs deny the user
	ReasonUnauthorized Reason = "unauthorized" // 401: credentials missing or wrong
	ReasonHTTPStatus   Reason = "http_status"  // any other non-200 status
	ReasonDecode       Reason = "decode"       // not JSON, or JSON of the wrong shape, or truncated
	ReasonTooLarge     Reason = "too_large"    // body over the size cap
	ReasonCanceled     Reason = "canceled"     // the caller gave up (shutdown, target removed)
	ReasonCredentials  Reason = "credentials"  // the credentials file could not be read
	// ReasonStarting: the UI answered 200 with Spark's plain-text page "Spark is starting up.
	// Please wait a while until it's ready." instead of the API (seen on Spark 3.5.9 for about
	// half a second after its UI began listening; docs/metrics.md).
	ReasonStarting Reason = "starting"
)

// startingPage is how the page a starting Spark UI serves in place of every path begins.
var startingPage = []byte("Spark is starting up.")

// Error is a failed request: which URL, why, the HTTP status if there was one.
type Error struct {
	URL    string
	Reason Reason
	Status int // 0 when no response arrived
	Err    error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("GET %s: %s (HTTP %d): %v", e.URL, e.Reason, e.Status, e.Err)
	}
	return fmt.Sprintf("GET %s: %s: %v", e.URL, e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of err if it is (or wraps) an *Error; context errors map to
// ReasonTimeout and ReasonCanceled; anything else is "other".
func ReasonOf(err error) Reason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	if errors.Is(err, context.Canceled) {
		return ReasonCanceled
	}
	return "other"
}

// Credentials are sent to drivers whose UI requires them (a filter in front of the UI, or a
// proxy). At most one of basic auth and bearer token is set; files are re-read on every request
// so rotated secrets are picked up.
type Credentials struct {
	Username        string
	PasswordFile    string
	BearerTokenFile string
}

func (c Credentials) apply(req *http.Request) error {
	switch {
	case c.BearerTokenFile != "":
		tok, err := readSecret(c.BearerTokenFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case c.Username != "":
		pw := ""
		if c.PasswordFile != "" {
			var err error
			if pw, err = readSecret(c.PasswordFile); err != nil {
				return err
			}
		}
		req.SetBasicAuth(c.Username, pw)
	}
	return nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// Client issues GET requests against Spark's REST API. The zero value is not usable: HTTP and
// MaxBodyBytes must be set. A Client is safe for concurrent use.
type Client struct {
	HTTP         *http.Client
	MaxBodyBytes int64 // bodies longer than this fail with ReasonTooLarge
	Credentials  Credentials
	// DecodeConcurrency bounds how many bodies are decoded at once (0: GOMAXPROCS). Many
	// requests may wait on slow drivers, but decoding is CPU work: running more decodes than
	// cores only starves other work (a /metrics scrape) without polling any faster.
	DecodeConcurrency int

	once  sync.Once
	slots chan struct{}
}

func (c *Client) decodeSlots() chan struct{} {
	c.once.Do(func() {
		n := c.DecodeConcurrency
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		c.slots = make(chan struct{}, n)
	})
	return c.slots
}

// Get fetches base + "/api/v1" + path with the query and decodes the JSON body into v. base is
// the UI root of a driver (http://host:4040) or a proxy prefix (http://master:8080/proxy/<appId>).
// The context carries the per-request deadline.
func (c *Client) Get(ctx context.Context, base *url.URL, path string, query url.Values, v any) error {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1" + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	return c.GetURL(ctx, u.String(), v)
}

// GetURL fetches an absolute URL and decodes its JSON body into v (used for the standalone
// master's /json as well as the REST API).
func (c *Client) GetURL(ctx context.Context, rawURL string, v any) error {
	pool := &smallBodies
	if _, ok := v.(*ExecutorList); ok {
		pool = &largeBodies
	}
	return c.fetch(ctx, rawURL, pool, func(body []byte) error {
		if fd, ok := v.(fastDecoder); ok {
			return fd.decodeFast(body)
		}
		return json.Unmarshal(body, v)
	})
}

// fetch reads the body of rawURL and hands it to decode; the body is only valid during the
// call. Every failure is an *Error; decode's errors have ReasonDecode.
func (c *Client) fetch(ctx context.Context, rawURL string, pool *bodyPool, decode func([]byte) error) error {
	resp, err := c.send(ctx, rawURL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := pool.get()
	defer pool.put(buf)
	body, err := readCapped(buf, resp.Body, c.MaxBodyBytes)
	if err != nil {
		reason := ReasonDecode
		switch {
		case errors.Is(err, errTooLarge):
			reason = ReasonTooLarge
		case ctx.Err() != nil:
			reason = transportReason(ctx, ctx.Err())
		}
		return &Error{URL: rawURL, Reason: reason, Status: resp.StatusCode, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		return &Error{URL: rawURL, Reason: statusReason(resp.StatusCode), Status: resp.StatusCode,
			Err: errors.New(firstLine(body))}
	}
	if resp.StatusCode == http.StatusOK && bytes.HasPrefix(bytes.TrimSpace(body), startingPage) {
		return &Error{URL: rawURL, Reason: ReasonStarting, Status: resp.StatusCode, Err: errors.New(firstLine(body))}
	}
	slots := c.decodeSlots()
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return &Error{URL: rawURL, Reason: transportReason(ctx, ctx.Err()), Err: ctx.Err()}
	}
	err = decode(body)
	<-slots
	if err != nil {
		return &Error{URL: rawURL, Reason: ReasonDecode, Status: resp.StatusCode,
			Err: fmt.Errorf("%w; %s", err, describeBody(resp.Header.Get("Content-Type"), body))}
	}
	return nil
}

// describeBody says what a body that did not decode was, for the log: its type, length and
// first bytes (a Spark page in HTML, a proxy's error text, an empty or cut-short body).
func describeBody(contentType string, body []byte) string {
	const max = 160
	start := body
	if len(start) > max {
		start = start[:max]
	}
	return fmt.Sprintf("body of %d bytes (Content-Type %q) starts %q", len(body), contentType, start)
}

// send issues the GET of rawURL; a failure to send or to get a response is an *Error.
func (c *Client) send(ctx context.Context, rawURL string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, &Error{URL: rawURL, Reason: ReasonConnection, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	if err := c.Credentials.apply(req); err != nil {
		return nil, &Error{URL: rawURL, Reason: ReasonCredentials, Err: err}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, &Error{URL: rawURL, Reason: transportReason(ctx, err), Err: err}
	}
	return resp, nil
}

// bodyPool recycles response buffers up to a capacity: a poll cycle of a large fleet reads
// hundreds of megabytes, and decoding copies what it keeps.
type bodyPool struct {
	pool sync.Pool
	max  int // buffers grown beyond this are dropped, not kept
}

func (p *bodyPool) get() *bytes.Buffer {
	if b, ok := p.pool.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (p *bodyPool) put(b *bytes.Buffer) {
	if b.Cap() > p.max {
		return
	}
	b.Reset()
	p.pool.Put(b)
}

// Two size classes, so that the many small bodies of a poll in flight at once (active stages,
// running jobs, /metrics/json, /environment) do not each hold a buffer once grown for a large
// /executors list: with every request of 64 polls in flight together that alone kept
// about 100 MB more alive at 500 drivers of 100 executors.
var (
	smallBodies = bodyPool{max: 256 << 10}
	largeBodies = bodyPool{max: 4 << 20}
)

var errTooLarge = errors.New("response body exceeds the size cap")

// readCapped reads at most limit bytes into buf; one more byte means the body is too large.
func readCapped(buf *bytes.Buffer, r io.Reader, limit int64) ([]byte, error) {
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading body: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w (%d bytes)", errTooLarge, limit)
	}
	return buf.Bytes(), nil
}

func transportReason(ctx context.Context, err error) Reason {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ReasonCanceled
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ReasonTimeout
	}
	return ReasonConnection
}

func statusReason(code int) Reason {
	switch code {
	case http.StatusNotFound:
		return ReasonNotFound
	case http.StatusForbidden:
		return ReasonForbidden
	case http.StatusUnauthorized:
		return ReasonUnauthorized
	}
	return ReasonHTTPStatus
}

// firstLine keeps error bodies short in logs: Spark answers errors with one line of text/plain,
// but a UI that is still starting or a proxy may answer with JSON or HTML over several lines, so
// when the first line alone says little (under 40 characters) the following ones are joined to it.
func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 40 {
		s = s[:i]
	}
	s = strings.Join(strings.Fields(s), " ")
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	if s == "" {
		return "empty body"
	}
	return s
}
