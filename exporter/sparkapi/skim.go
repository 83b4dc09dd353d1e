package sparkapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The two large payloads of every poll, /executors and /stages, are decoded by a single-pass
// skimmer instead of encoding/json: Spark sends dozens of fields the exporter ignores (memory
// metrics, call stacks), and encoding/json validates and then walks every byte twice. The
// skimmer reads the top-level fields of each object of an array and skips the rest; anything
// that is not an array of objects, or is cut short, is an error. FuzzSkim checks it against
// encoding/json.

// ExecutorList is the payload of /executors.
type ExecutorList []ExecutorSummary

// StageList is the payload of /stages.
type StageList []StageData

// fastDecoder is implemented by payloads the skimmer decodes.
type fastDecoder interface {
	decodeFast(b []byte) error
}

func (l *ExecutorList) decodeFast(b []byte) error {
	var out ExecutorList
	err := skimArray(b, func(s *skimmer) error {
		var e ExecutorSummary
		err := s.object(func(key, v []byte) error {
			var err error
			switch string(key) {
			case "id":
				e.ID, err = str(v)
			case "hostPort":
				e.HostPort, err = str(v)
			case "isActive":
				e.IsActive, err = boolean(v)
			case "rddBlocks":
				e.RDDBlocks, err = integer(v)
			case "memoryUsed":
				e.MemoryUsed, err = long(v)
			case "diskUsed":
				e.DiskUsed, err = long(v)
			case "totalCores":
				e.TotalCores, err = integer(v)
			case "maxTasks":
				e.MaxTasks, err = integer(v)
			case "activeTasks":
				e.ActiveTasks, err = integer(v)
			case "failedTasks":
				e.FailedTasks, err = integer(v)
			case "completedTasks":
				e.CompletedTasks, err = integer(v)
			case "totalTasks":
				e.TotalTasks, err = integer(v)
			case "totalShuffleWrite":
				e.TotalShuffleWrite, err = long(v)
			case "maxMemory":
				e.MaxMemory, err = long(v)
			case "addTime":
				e.AddTime, err = date(v)
			case "resourceProfileId":
				e.ResourceProfileID, err = optInt(v)
			case "isExcluded":
				e.IsExcluded, err = optBool(v)
			}
			return err
		})
		out = append(out, e)
		return err
	})
	*l = out
	return err
}

func (l *StageList) decodeFast(b []byte) error {
	var out StageList
	err := skimArray(b, func(s *skimmer) error {
		var st StageData
		err := s.object(func(key, v []byte) error {
			var err error
			switch string(key) {
			case "status":
				st.Status, err = str(v)
			case "stageId":
				st.StageID, err = integer(v)
			case "attemptId":
				st.AttemptID, err = integer(v)
			case "name":
				st.Name, err = str(v)
			case "numTasks":
				st.NumTasks, err = integer(v)
			case "numActiveTasks":
				st.NumActiveTasks, err = integer(v)
			case "numCompleteTasks":
				st.NumCompleteTasks, err = integer(v)
			case "numFailedTasks":
				st.NumFailedTasks, err = integer(v)
			case "numKilledTasks":
				st.NumKilledTasks, err = integer(v)
			case "numCompletedIndices":
				st.NumCompletedIndices, err = integer(v)
			case "submissionTime":
				st.SubmissionTime, err = date(v)
			case "completionTime":
				st.CompletionTime, err = date(v)
			case "resourceProfileId":
				st.ResourceProfileID, err = optInt(v)
			}
			return err
		})
		out = append(out, st)
		return err
	})
	*l = out
	return err
}

var errSyntax = errors.New("invalid JSON")

type skimmer struct {
	b []byte
	i int
}

func (s *skimmer) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *skimmer) expect(c byte) error {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != c {
		return fmt.Errorf("%w: want %q at offset %d", errSyntax, c, s.i)
	}
	s.i++
	return nil
}

// peek returns the next non-space byte, 0 at the end.
func (s *skimmer) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// skimArray calls each for every element of a top-level array; elements must be objects.
func skimArray(b []byte, each func(*skimmer) error) error {
	s := &skimmer{b: b}
	if s.peek() == 'n' && string(b[s.i:]) == "null" { // as encoding/json: null is an empty list
		return nil
	}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
	} else {
		for {
			if err := each(s); err != nil {
				return err
			}
			if c := s.peek(); c == ',' {
				s.i++
				continue
			} else if c == ']' {
				s.i++
				break
			}
			return fmt.Errorf("%w: want , or ] at offset %d", errSyntax, s.i)
		}
	}
	if s.peek() != 0 {
		return fmt.Errorf("%w: data after the array at offset %d", errSyntax, s.i)
	}
	return nil
}

// object reads one object, calling field with each key and the raw bytes of its value.
func (s *skimmer) object(field func(key, v []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		start := s.i
		if err := s.value(); err != nil {
			return err
		}
		key, err := keyOf(s.b[start:s.i])
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		s.ws()
		vstart := s.i
		if err := s.value(); err != nil {
			return err
		}
		if err := field(key, s.b[vstart:s.i]); err != nil {
			return fmt.Errorf("field %q: %w", string(key), err)
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return fmt.Errorf("%w: want , or } at offset %d", errSyntax, s.i)
		}
	}
}

// value skips one JSON value, checking brackets and strings; scalars are checked when used.
func (s *skimmer) value() error {
	if s.i >= len(s.b) {
		return fmt.Errorf("%w: unexpected end", errSyntax)
	}
	switch c := s.b[s.i]; c {
	case '"':
		// Jump from quote to quote; a quote preceded by an odd run of backslashes is escaped.
		j := s.i + 1
		for {
			k := bytes.IndexByte(s.b[j:], '"')
			if k < 0 {
				return fmt.Errorf("%w: unterminated string", errSyntax)
			}
			j += k
			n := 0
			for m := j - 1; m > s.i && s.b[m] == '\\'; m-- {
				n++
			}
			j++
			if n%2 == 0 {
				s.i = j
				return nil
			}
		}
	case '{', '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		s.i++
		if s.peek() == closer {
			s.i++
			return nil
		}
		for {
			s.ws()
			if err := s.value(); err != nil {
				return err
			}
			if c == '{' {
				if err := s.expect(':'); err != nil {
					return err
				}
				s.ws()
				if err := s.value(); err != nil {
					return err
				}
			}
			switch s.peek() {
			case ',':
				s.i++
			case closer:
				s.i++
				return nil
			default:
				return fmt.Errorf("%w: unexpected byte at offset %d", errSyntax, s.i)
			}
		}
	default:
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if s.i == start {
					return fmt.Errorf("%w: unexpected byte at offset %d", errSyntax, s.i)
				}
				return nil
			}
			s.i++
		}
		return nil
	}
}

// keyOf returns the key's bytes without quotes and without copying; the callers switch on
// string(key), which Go compares without allocating. Keys with escapes (Spark writes none) are
// unescaped into a copy.
func keyOf(v []byte) ([]byte, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, fmt.Errorf("%w: want a string", errSyntax)
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			k, err := str(v)
			return []byte(k), err
		}
	}
	return inner, nil
}

func str(v []byte) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", fmt.Errorf("%w: want a string", errSyntax)
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' || c < 0x20 {
			var s string
			err := json.Unmarshal(v, &s)
			return s, err
		}
	}
	return string(inner), nil
}

func long(v []byte) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		// Spark writes integers, but accept what encoding/json accepts for an int64 field.
		var x int64
		if jerr := json.Unmarshal(v, &x); jerr != nil {
			return 0, fmt.Errorf("%w: want an integer", errSyntax)
		}
		return x, nil
	}
	return n, nil
}

func integer(v []byte) (int, error) {
	n, err := long(v)
	if err != nil {
		return 0, err
	}
	if n != int64(int(n)) {
		return 0, fmt.Errorf("%w: integer out of range", errSyntax)
	}
	return int(n), nil
}

func boolean(v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return false, nil
	}
	return false, fmt.Errorf("%w: want true or false", errSyntax)
}

func optInt(v []byte) (*int, error) {
	if string(v) == "null" {
		return nil, nil
	}
	n, err := integer(v)
	return &n, err
}

func optBool(v []byte) (*bool, error) {
	if string(v) == "null" {
		return nil, nil
	}
	b, err := boolean(v)
	return &b, err
}

func date(v []byte) (*Date, error) {
	if string(v) == "null" {
		return nil, nil
	}
	var d Date
	if err := d.UnmarshalJSON(v); err != nil {
		return nil, err
	}
	return &d, nil
}
