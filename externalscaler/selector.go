package externalscaler

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MatchType is a Prometheus label-matcher operator.
type MatchType uint8

// The four Prometheus matcher operators.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~
	MatchNotRegexp                  // !~
)

// String returns the operator as written in PromQL.
func (t MatchType) String() string {
	return [...]string{"=", "!=", "=~", "!~"}[t]
}

// Matcher is one label matcher of a Selector. A label that is absent
// matches as the empty string, as in Prometheus.
type Matcher struct {
	Type  MatchType
	Name  string
	Value string
	re    *regexp.Regexp // anchored, for =~ and !~
}

// Matches reports whether the label value v satisfies the matcher.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// String renders the matcher in PromQL syntax.
func (m *Matcher) String() string {
	return m.Name + m.Type.String() + strconv.Quote(m.Value)
}

// Selector is a list of Prometheus label matchers (the `selector` trigger
// key): an application is selected when every matcher matches its labels.
type Selector []Matcher

// Matches reports whether every matcher accepts the labels; get returns a
// label's value, "" when absent.
func (s Selector) Matches(get func(name string) string) bool {
	for i := range s {
		if !s[i].Matches(get(s[i].Name)) {
			return false
		}
	}
	return true
}

// String renders the selector in PromQL syntax, braces included.
func (s Selector) String() string {
	parts := make([]string, len(s))
	for i := range s {
		parts[i] = s[i].String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// ParseSelector reads Prometheus label matchers, e.g.
// `namespace="spark",app_name=~"etl-.*"`, optionally wrapped in braces.
// Operators are =, !=, =~ and !~; values are double-, single- or
// back-quoted strings with PromQL's escapes; regular expressions are RE2,
// anchored at both ends as in Prometheus. As in PromQL, at least one matcher
// must not match the empty string, so a selector can never select every
// application by accident. Errors name the offending position.
func ParseSelector(in string) (Selector, error) {
	p := selParser{in: strings.TrimSpace(in)}
	if strings.HasPrefix(p.in, "{") {
		if !strings.HasSuffix(p.in, "}") {
			return nil, fmt.Errorf("selector %q: missing closing '}'", in)
		}
		p.in = strings.TrimSpace(p.in[1 : len(p.in)-1])
	}
	var sel Selector
	for {
		p.space()
		if p.done() {
			break
		}
		m, err := p.matcher()
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", in, err)
		}
		sel = append(sel, m)
		p.space()
		if p.done() {
			break
		}
		if p.in[p.pos] != ',' {
			return nil, fmt.Errorf("selector %q: expected ',' at offset %d", in, p.pos)
		}
		p.pos++
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("selector %q: no label matchers", in)
	}
	for i := range sel {
		if !sel[i].Matches("") {
			return sel, nil
		}
	}
	return nil, fmt.Errorf("selector %q: at least one matcher must not match the empty string", in)
}

type selParser struct {
	in  string
	pos int
}

func (p *selParser) done() bool { return p.pos >= len(p.in) }

func (p *selParser) space() {
	for p.pos < len(p.in) && strings.IndexByte(" \t\r\n", p.in[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *selParser) matcher() (Matcher, error) {
	name := p.labelName()
	if name == "" {
		return Matcher{}, fmt.Errorf("expected a label name at offset %d", p.pos)
	}
	p.space()
	typ, ok := p.op()
	if !ok {
		return Matcher{}, fmt.Errorf("expected =, !=, =~ or !~ after %q at offset %d", name, p.pos)
	}
	p.space()
	val, err := p.quoted()
	if err != nil {
		return Matcher{}, err
	}
	m := Matcher{Type: typ, Name: name, Value: val}
	if typ == MatchRegexp || typ == MatchNotRegexp {
		re, err := regexp.Compile("^(?s:" + val + ")$")
		if err != nil {
			return Matcher{}, fmt.Errorf("label %q: invalid regular expression: %w", name, err)
		}
		m.re = re
	}
	return m, nil
}

func (p *selParser) labelName() string {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || p.pos > start && c >= '0' && c <= '9' {
			p.pos++
			continue
		}
		break
	}
	return p.in[start:p.pos]
}

func (p *selParser) op() (MatchType, bool) {
	rest := p.in[p.pos:]
	for _, o := range []struct {
		s string
		t MatchType
	}{{"=~", MatchRegexp}, {"!~", MatchNotRegexp}, {"!=", MatchNotEqual}, {"=", MatchEqual}} {
		if strings.HasPrefix(rest, o.s) {
			p.pos += len(o.s)
			return o.t, true
		}
	}
	return 0, false
}

// quoted reads a PromQL string literal: "…" and '…' with Go escapes,
// `…` raw.
func (p *selParser) quoted() (string, error) {
	if p.done() {
		return "", fmt.Errorf("expected a quoted value at offset %d", p.pos)
	}
	q := p.in[p.pos]
	if q != '"' && q != '\'' && q != '`' {
		return "", fmt.Errorf("expected a quoted value at offset %d", p.pos)
	}
	start := p.pos
	p.pos++
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		if c == '\\' && q != '`' {
			p.pos += 2
			continue
		}
		p.pos++
		if c == q {
			lit := p.in[start:p.pos]
			if q == '\'' {
				lit = `"` + strings.ReplaceAll(strings.ReplaceAll(lit[1:len(lit)-1], `\'`, `'`), `"`, `\"`) + `"`
			}
			s, err := strconv.Unquote(lit)
			if err != nil || !utf8.ValidString(s) {
				return "", fmt.Errorf("invalid string literal %s at offset %d", p.in[start:p.pos], start)
			}
			return s, nil
		}
	}
	return "", fmt.Errorf("unterminated string starting at offset %d", start)
}
