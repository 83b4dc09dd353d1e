package sim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Event is the part of one Spark event-log line (JsonProtocol) that the
// simulator reads. Fields absent from an event stay at their zero value;
// times are epoch milliseconds as Spark writes them.
type Event struct {
	// Event is the listener event class, e.g. "SparkListenerTaskEnd".
	Event string `json:"Event"`
	// Timestamp of application start/end, executor added/removed.
	Timestamp int64 `json:"Timestamp"`
	// AppID and AppName of SparkListenerApplicationStart.
	AppID   string `json:"App ID"`
	AppName string `json:"App Name"`
	// StageInfo of stage submitted/completed.
	StageInfo *StageInfo `json:"Stage Info"`
	// StageID and StageAttemptID of task start/end.
	StageID        *int `json:"Stage ID"`
	StageAttemptID int  `json:"Stage Attempt ID"`
	// TaskType of task end: "ShuffleMapTask" or "ResultTask".
	TaskType string    `json:"Task Type"`
	TaskInfo *TaskInfo `json:"Task Info"`
	// TaskEndReason of task end; Reason is "Success", "TaskKilled", …
	TaskEndReason *struct {
		Reason string `json:"Reason"`
	} `json:"Task End Reason"`
	// JobID, SubmissionTime, CompletionTime and StageInfos of job start/end.
	JobID          *int        `json:"Job ID"`
	SubmissionTime int64       `json:"Submission Time"`
	CompletionTime int64       `json:"Completion Time"`
	StageInfos     []StageInfo `json:"Stage Infos"`
	// ExecutorID, ExecutorInfo and RemovedReason of executor added/removed.
	ExecutorID   string `json:"Executor ID"`
	ExecutorInfo *struct {
		TotalCores        int `json:"Total Cores"`
		ResourceProfileID int `json:"Resource Profile Id"`
	} `json:"Executor Info"`
	RemovedReason string `json:"Removed Reason"`
	// SparkProperties of the environment update.
	SparkProperties json.RawMessage `json:"Spark Properties"`
	// RDDID of unpersist RDD.
	RDDID *int `json:"RDD ID"`
	// ResourceProfileID, ExecutorResources and TaskResources of a
	// resource profile added: amounts per resource name ("cores", "cpus",
	// "gpu", …).
	ResourceProfileID *int                      `json:"Resource Profile Id"`
	ExecutorResources map[string]ResourceAmount `json:"Executor Resource Requests"`
	TaskResources     map[string]ResourceAmount `json:"Task Resource Requests"`
}

// ResourceAmount is one resource request of a resource profile.
type ResourceAmount struct {
	Amount float64 `json:"Amount"`
}

// StageInfo is the stage part of stage and job events.
type StageInfo struct {
	StageID        int       `json:"Stage ID"`
	AttemptID      int       `json:"Stage Attempt ID"`
	Name           string    `json:"Stage Name"`
	NumTasks       int       `json:"Number of Tasks"`
	ParentIDs      []int     `json:"Parent IDs"`
	SubmissionTime int64     `json:"Submission Time"`
	CompletionTime int64     `json:"Completion Time"`
	RPID           int       `json:"Resource Profile Id"`
	RDDInfo        []RDDInfo `json:"RDD Info"`
}

// RDDInfo is one RDD of a stage, with its storage level.
type RDDInfo struct {
	RDDID        int `json:"RDD ID"`
	StorageLevel struct {
		UseDisk   bool `json:"Use Disk"`
		UseMemory bool `json:"Use Memory"`
	} `json:"Storage Level"`
}

// TaskInfo is the task part of task start/end.
type TaskInfo struct {
	TaskID      int64  `json:"Task ID"`
	Index       int    `json:"Index"`
	Attempt     int    `json:"Attempt"`
	LaunchTime  int64  `json:"Launch Time"`
	FinishTime  int64  `json:"Finish Time"`
	ExecutorID  string `json:"Executor ID"`
	Speculative bool   `json:"Speculative"`
	Failed      bool   `json:"Failed"`
	Killed      bool   `json:"Killed"`
}

// known lists the listener events the simulator uses; other events (SQL,
// metrics, block manager, …) are skipped and counted.
var known = map[string]bool{
	"SparkListenerLogStart": true, "SparkListenerApplicationStart": true, "SparkListenerApplicationEnd": true,
	"SparkListenerEnvironmentUpdate": true, "SparkListenerJobStart": true, "SparkListenerJobEnd": true,
	"SparkListenerStageSubmitted": true, "SparkListenerStageCompleted": true, "SparkListenerTaskStart": true,
	"SparkListenerTaskEnd": true, "SparkListenerExecutorAdded": true, "SparkListenerExecutorRemoved": true,
	"SparkListenerUnpersistRDD": true, "SparkListenerResourceProfileAdded": true,
}

// ReadStats counts what reading an event log skipped.
type ReadStats struct {
	// Lines is the number of lines read (blank ones included).
	Lines int
	// Events is the number of events kept.
	Events int
	// Unknown counts events of classes the simulator does not use.
	Unknown int
	// Truncated is 1 when the last line was cut short (an in-progress or
	// crashed application) and was dropped.
	Truncated int
	// Malformed counts lines that were not JSON objects with an "Event"
	// field, or whose fields had the wrong types (only when not strict).
	Malformed int
}

// LineError is a line of an event log that could not be read.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// maxLine bounds one event-log line (Spark's own lines are below a few MB).
const maxLine = 64 << 20

// ReadEvents reads JSON-lines events from r. A malformed line is an error
// (*LineError with its line number) when strict, else skipped and counted;
// a cut-short last line is always dropped and counted (Spark's history
// server does the same for in-progress logs). Unknown event classes are
// counted and skipped. It never panics on any input.
func ReadEvents(r io.Reader, strict bool) ([]Event, ReadStats, error) {
	var st ReadStats
	var out []Event
	br := bufio.NewReaderSize(r, 1<<16)
	for {
		line, err := readLine(br)
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return out, st, &LineError{st.Lines + 1, err}
		}
		st.Lines++
		last := err == io.EOF
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			if last {
				break
			}
			continue
		}
		ev, perr := ParseLine(line)
		switch {
		case perr != nil && last && isTruncation(perr):
			st.Truncated++
		case perr != nil && strict:
			return out, st, &LineError{st.Lines, perr}
		case perr != nil:
			st.Malformed++
		case !known[ev.Event]:
			st.Unknown++
		default:
			st.Events++
			out = append(out, ev)
		}
		if last {
			break
		}
	}
	return out, st, nil
}

// readLine reads one line without its newline, bounded by maxLine.
func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil {
			return buf[:len(buf)-1], nil
		}
		return buf, err
	}
}

// isTruncation reports whether a JSON error means the input ended early.
func isTruncation(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end of JSON input")
}

// ParseLine parses one event-log line. The error says what was wrong.
func ParseLine(line []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return Event{}, err
	}
	if ev.Event == "" {
		return Event{}, errors.New(`not a Spark event: no "Event" field`)
	}
	return ev, nil
}

// Properties decodes SparkListenerEnvironmentUpdate's "Spark Properties":
// an object of strings (Spark 2+) or a list of [key, value] pairs.
func (e *Event) Properties() (map[string]string, error) {
	if len(e.SparkProperties) == 0 {
		return map[string]string{}, nil
	}
	var m map[string]string
	if err := json.Unmarshal(e.SparkProperties, &m); err == nil {
		return m, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(e.SparkProperties, &pairs); err != nil {
		return nil, fmt.Errorf("Spark Properties: neither an object nor a list of pairs: %w", err)
	}
	m = make(map[string]string, len(pairs))
	for _, p := range pairs {
		if len(p) == 2 {
			m[p[0]] = p[1]
		}
	}
	return m, nil
}
