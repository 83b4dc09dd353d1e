package sparkapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// dateLayout is the layout of every date in Spark's REST payloads: always GMT, milliseconds.
const dateLayout = "2006-01-02T15:04:05.000GMT"

// Date is a Spark REST date ("2015-02-03T16:43:07.191GMT"). The zero Date means the field was
// empty; "1969-12-31T23:59:59.999GMT" (Spark's "no end time") decodes to that instant as is.
type Date struct{ time.Time }

// UnmarshalJSON parses Spark's date layout as UTC. An empty string (the history server's blanked
// lastUpdated) gives the zero Date.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("spark date: %w", err)
	}
	if s == "" {
		d.Time = time.Time{}
		return nil
	}
	t, err := time.ParseInLocation(dateLayout, s, time.UTC)
	if err != nil {
		return fmt.Errorf("spark date %q: %w", s, err)
	}
	d.Time = t
	return nil
}

// ApplicationInfo is one element of /applications. A live driver lists exactly one.
type ApplicationInfo struct {
	ID       string                   `json:"id"`
	Name     string                   `json:"name"`
	Attempts []ApplicationAttemptInfo `json:"attempts"`
}

// SparkVersion is the appSparkVersion of the newest attempt, or "" when no attempt has one.
func (a ApplicationInfo) SparkVersion() string {
	for _, at := range a.Attempts {
		if at.AppSparkVersion != nil && *at.AppSparkVersion != "" {
			return *at.AppSparkVersion
		}
	}
	return ""
}

// ApplicationAttemptInfo is one attempt of an application. AttemptID is only set for
// multi-attempt (YARN cluster mode) applications; AppSparkVersion is absent in very old logs.
type ApplicationAttemptInfo struct {
	AttemptID       *string `json:"attemptId,omitempty"`
	StartTime       Date    `json:"startTime"`
	Completed       bool    `json:"completed"`
	SparkUser       string  `json:"sparkUser"`
	AppSparkVersion *string `json:"appSparkVersion,omitempty"`
}

// Stage statuses (StageStatus in Spark). Only ACTIVE stages are submitted and not finished.
const (
	StageActive   = "ACTIVE"
	StageComplete = "COMPLETE"
	StageFailed   = "FAILED"
	StagePending  = "PENDING"
	StageSkipped  = "SKIPPED"
)

// StageData is one stage attempt of /stages (fetched without details). Task counters count task
// attempts; NumCompletedIndices counts distinct finished partitions. ResourceProfileID is absent
// before Spark 3.1.
type StageData struct {
	Status              string `json:"status"`
	StageID             int    `json:"stageId"`
	AttemptID           int    `json:"attemptId"`
	Name                string `json:"name"`
	NumTasks            int    `json:"numTasks"`
	NumActiveTasks      int    `json:"numActiveTasks"`
	NumCompleteTasks    int    `json:"numCompleteTasks"`
	NumFailedTasks      int    `json:"numFailedTasks"`
	NumKilledTasks      int    `json:"numKilledTasks"`
	NumCompletedIndices int    `json:"numCompletedIndices"`
	SubmissionTime      *Date  `json:"submissionTime,omitempty"`
	CompletionTime      *Date  `json:"completionTime,omitempty"`
	ResourceProfileID   *int   `json:"resourceProfileId,omitempty"`
}

// Job statuses (JobExecutionStatus in Spark).
const (
	JobRunning   = "RUNNING"
	JobSucceeded = "SUCCEEDED"
	JobFailed    = "FAILED"
	JobUnknown   = "UNKNOWN"
)

// JobData is one job of /jobs.
type JobData struct {
	JobID              int    `json:"jobId"`
	Name               string `json:"name"`
	Status             string `json:"status"`
	StageIDs           []int  `json:"stageIds"`
	SubmissionTime     *Date  `json:"submissionTime,omitempty"`
	NumTasks           int    `json:"numTasks"`
	NumActiveTasks     int    `json:"numActiveTasks"`
	NumActiveStages    int    `json:"numActiveStages"`
	NumCompletedStages int    `json:"numCompletedStages"`
	NumFailedStages    int    `json:"numFailedStages"`
}

// DriverExecutorID is the id of the driver's own row in /executors.
const DriverExecutorID = "driver"

// ExecutorSummary is one row of /executors: the active executors plus the driver row. Byte
// fields are bytes; task counters other than ActiveTasks are cumulative since registration.
// TotalShuffleWrite never decreases, even after the shuffle is cleaned.
type ExecutorSummary struct {
	ID                string `json:"id"`
	HostPort          string `json:"hostPort"`
	IsActive          bool   `json:"isActive"`
	RDDBlocks         int    `json:"rddBlocks"`
	MemoryUsed        int64  `json:"memoryUsed"`
	DiskUsed          int64  `json:"diskUsed"`
	TotalCores        int    `json:"totalCores"`
	MaxTasks          int    `json:"maxTasks"`
	ActiveTasks       int    `json:"activeTasks"`
	FailedTasks       int    `json:"failedTasks"`
	CompletedTasks    int    `json:"completedTasks"`
	TotalTasks        int    `json:"totalTasks"`
	TotalShuffleWrite int64  `json:"totalShuffleWrite"`
	MaxMemory         int64  `json:"maxMemory"`
	AddTime           *Date  `json:"addTime,omitempty"`
	ResourceProfileID *int   `json:"resourceProfileId,omitempty"`
	IsExcluded        *bool  `json:"isExcluded,omitempty"`
}

// Host is the host part of HostPort (an IP on Kubernetes), without brackets for IPv6.
func (e ExecutorSummary) Host() string {
	hp := e.HostPort
	i := strings.LastIndexByte(hp, ':')
	if i < 0 {
		return hp
	}
	return strings.TrimSuffix(strings.TrimPrefix(hp[:i], "["), "]")
}

// RDDStorageInfo is one row of /storage/rdd: a persisted RDD with at least one cached
// partition. Byte fields are bytes.
type RDDStorageInfo struct {
	ID                  int    `json:"id"`
	Name                string `json:"name"`
	NumPartitions       int    `json:"numPartitions"`
	NumCachedPartitions int    `json:"numCachedPartitions"`
	// StorageLevel is Spark's StorageLevel.description, e.g. "Memory Deserialized 1x
	// Replicated", "Disk Memory Serialized 1x Replicated": "Disk " first exactly when the level
	// uses disk.
	StorageLevel string `json:"storageLevel"`
	MemoryUsed   int64  `json:"memoryUsed"`
	DiskUsed     int64  `json:"diskUsed"`
	// Partitions are its cached blocks (Spark 2.3+ lists them in /storage/rdd too).
	Partitions []RDDPartitionInfo `json:"partitions"`
}

// RDDPartitionInfo is one cached block of an RDD: where it is and at which level.
type RDDPartitionInfo struct {
	BlockName string `json:"blockName"`
	// StorageLevel is the block's current level (where it is now, e.g. "Memory Serialized 1x
	// Replicated" for a MEMORY_AND_DISK block held in memory), as StorageLevel.description.
	StorageLevel string `json:"storageLevel"`
	// Executors are the ids of the executors holding the block.
	Executors []string `json:"executors"`
}

// LevelUsesDisk reports whether a StorageLevel.description names a level that uses disk
// (StorageLevel.useDisk): the description starts with "Disk " exactly then.
func LevelUsesDisk(description string) bool { return strings.HasPrefix(description, "Disk ") }

// Environment is the part of /environment the exporter reads: the explicitly set Spark
// properties (defaults are not listed; secrets are redacted by Spark).
type Environment struct {
	SparkProperties Properties `json:"sparkProperties"`
}

// Properties is Spark's list of [key, value] pairs decoded into a map. Malformed pairs (not
// exactly two strings) are an error.
type Properties map[string]string

// UnmarshalJSON decodes [["k","v"], …].
func (p *Properties) UnmarshalJSON(b []byte) error {
	var pairs [][]string
	if err := json.Unmarshal(b, &pairs); err != nil {
		return fmt.Errorf("spark properties: %w", err)
	}
	m := make(Properties, len(pairs))
	for i, kv := range pairs {
		if len(kv) != 2 {
			return fmt.Errorf("spark properties: pair %d has %d elements, want 2", i, len(kv))
		}
		m[kv[0]] = kv[1]
	}
	*p = m
	return nil
}

// Version is the payload of /version.
type Version struct {
	Spark string `json:"spark"`
}

// MasterState is the part of a standalone master's /json the exporter reads.
type MasterState struct {
	URL        string              `json:"url"`
	Status     string              `json:"status"`
	ActiveApps []MasterApplication `json:"activeapps"`
}

// MasterApplication is one element of the master's activeapps.
type MasterApplication struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}
