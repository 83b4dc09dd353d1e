package sparkapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// CountList fetches base + "/api/v1" + path with the query, a JSON array of objects (a stage or
// job list), and returns how many objects it holds, reading the body as it streams in instead
// of holding it: the finished-stage list of a long application is megabytes (up to
// spark.ui.retainedStages stages with their metrics), and only its length is needed. Failures
// are *Errors as for Get: a body that is not an array of objects, or is cut short, has
// ReasonDecode; one over MaxBodyBytes has ReasonTooLarge.
func (c *Client) CountList(ctx context.Context, base *url.URL, path string, query url.Values) (int, error) {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1" + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	rawURL := u.String()
	resp, err := c.send(ctx, rawURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, &Error{URL: rawURL, Reason: statusReason(resp.StatusCode), Status: resp.StatusCode, Err: errors.New(firstLine(msg))}
	}
	lr := &io.LimitedReader{R: resp.Body, N: c.MaxBodyBytes + 1}
	n, err := countObjects(bufio.NewReaderSize(lr, 32<<10))
	switch {
	case lr.N <= 0:
		return 0, &Error{URL: rawURL, Reason: ReasonTooLarge, Status: resp.StatusCode,
			Err: fmt.Errorf("%w (%d bytes)", errTooLarge, c.MaxBodyBytes)}
	case err != nil && ctx.Err() != nil:
		return 0, &Error{URL: rawURL, Reason: transportReason(ctx, ctx.Err()), Err: err}
	case err != nil:
		return 0, &Error{URL: rawURL, Reason: ReasonDecode, Status: resp.StatusCode, Err: err}
	}
	return n, nil
}

// countObjects counts the elements of a top-level JSON array whose elements are objects,
// checking brackets and strings as it goes (not the scalars inside the objects).
func countObjects(r *bufio.Reader) (int, error) {
	var (
		n, depth     int
		inString     bool
		escaped      bool
		started, end bool
	)
	for {
		chunk, err := r.ReadSlice('"')
		for _, c := range chunk {
			switch {
			case inString:
				switch {
				case escaped:
					escaped = false
				case c == '\\':
					escaped = true
				case c == '"':
					inString = false
				}
			case end:
				if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
					return 0, fmt.Errorf("%w: data after the array", errSyntax)
				}
			case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			case !started:
				if c != '[' {
					return 0, fmt.Errorf("%w: want an array", errSyntax)
				}
				started, depth = true, 1
			case c == '"':
				if depth == 1 {
					return 0, fmt.Errorf("%w: array element is not an object", errSyntax)
				}
				inString = true
			case c == '{' || c == '[':
				if depth == 1 {
					if c != '{' {
						return 0, fmt.Errorf("%w: array element is not an object", errSyntax)
					}
					n++
				}
				depth++
			case c == '}' || c == ']':
				depth--
				if depth == 0 {
					if c != ']' {
						return 0, fmt.Errorf("%w: unbalanced brackets", errSyntax)
					}
					end = true
				} else if depth < 0 {
					return 0, fmt.Errorf("%w: unbalanced brackets", errSyntax)
				}
			case depth == 1 && c != ',':
				return 0, fmt.Errorf("%w: array element is not an object", errSyntax)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			if !end {
				return 0, fmt.Errorf("%w: unexpected end", errSyntax)
			}
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("reading body: %w", err)
		}
	}
}
