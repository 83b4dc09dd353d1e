package sim

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// sparkLog is Spark's own event-log fixture (testdata/spark at the repository root, see its
// SOURCE.md): one job, one stage of 6 tasks on one YARN executor.
const sparkLog = "../testdata/spark/application_1578436911597_0052"

// readSparkLog reads sparkLog; a missing file fails the test, naming it.
func readSparkLog(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(sparkLog)
	if err != nil {
		t.Fatalf("Spark's event-log fixture is part of the repository: %v", err)
	}
	return b
}

func TestReadEventsCountsWhatItSkips(t *testing.T) {
	log := strings.Join([]string{
		`{"Event":"SparkListenerApplicationStart","App Name":"a","App ID":"app-1","Timestamp":1000}`,
		``,
		`{"Event":"org.apache.spark.sql.execution.ui.SparkListenerSQLExecutionStart","executionId":0}`,
		`{"Event":"SparkListenerApplicationEnd","Timestamp":5000}`,
		`{"Event":"SparkListenerJobStart","Job ID":0,"Submission Ti`,
	}, "\n")
	evs, st, err := ReadEvents(strings.NewReader(log), true)
	if err != nil {
		t.Fatal(err)
	}
	want := ReadStats{Lines: 5, Events: 2, Unknown: 1, Truncated: 1}
	if st != want || len(evs) != 2 {
		t.Fatalf("stats %+v (%d events), want %+v", st, len(evs), want)
	}
}

func TestReadEventsMalformedLine(t *testing.T) {
	log := "{\"Event\":\"SparkListenerApplicationStart\",\"Timestamp\":1}\n{not json}\n{\"Timestamp\":3}\n{\"Event\":\"SparkListenerApplicationEnd\",\"Timestamp\":4}\n"
	_, _, err := ReadEvents(strings.NewReader(log), true)
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Fatalf("strict: error %v, want a LineError on line 2", err)
	}
	evs, st, err := ReadEvents(strings.NewReader(log), false)
	if err != nil || st.Malformed != 2 || len(evs) != 2 {
		t.Fatalf("lenient: %d events, stats %+v, err %v; want 2 events and 2 malformed", len(evs), st, err)
	}
}

func TestReadEventsWrongFieldType(t *testing.T) {
	log := "{\"Event\":\"SparkListenerTaskEnd\",\"Stage ID\":\"zero\"}\n"
	_, _, err := ReadEvents(strings.NewReader(log), true)
	if err == nil || !strings.Contains(err.Error(), "line 1:") {
		t.Fatalf("error %v, want line 1", err)
	}
}

func TestBuildNeedsApplicationStart(t *testing.T) {
	_, err := Read(strings.NewReader(`{"Event":"SparkListenerApplicationEnd","Timestamp":4}`+"\n"), true)
	if err == nil || !strings.Contains(err.Error(), "no SparkListenerApplicationStart") {
		t.Fatalf("error %v", err)
	}
}

func TestBuildClampsOutOfOrderAndCountsOrphans(t *testing.T) {
	log := strings.Join([]string{
		`{"Event":"SparkListenerApplicationStart","App ID":"a","Timestamp":10000}`,
		`{"Event":"SparkListenerExecutorAdded","Timestamp":8000,"Executor ID":"1","Executor Info":{"Total Cores":2}}`,
		`{"Event":"SparkListenerTaskEnd","Stage ID":4,"Task Info":{"Index":0,"Launch Time":10000,"Finish Time":11000}}`,
		`{"Event":"SparkListenerApplicationEnd","Timestamp":20000}`,
	}, "\n")
	app, err := Read(strings.NewReader(log), true)
	if err != nil {
		t.Fatal(err)
	}
	if app.OutOfOrder != 1 || app.Orphans != 1 || app.Executors[0].Added != 10000 {
		t.Fatalf("out of order %d, orphans %d, executor added %d; want 1, 1, 10000", app.OutOfOrder, app.Orphans, app.Executors[0].Added)
	}
	if s := app.Skipped(); !strings.Contains(s, "1 events more than 1s out of order") || !strings.Contains(s, "1 task events of unknown stages") {
		t.Fatalf("skipped %q", s)
	}
}

func TestSharedSparkLog(t *testing.T) {
	app, err := Read(bytes.NewReader(readSparkLog(t)), true)
	if err != nil {
		t.Fatal(err)
	}
	if app.ID != "application_1578436911597_0052" || len(app.Jobs) != 1 || len(app.Stages[0].Tasks) != 6 || len(app.Executors) != 1 {
		t.Fatalf("app %s: %d jobs, %d tasks, %d executors", app.ID, len(app.Jobs), len(app.Stages[0].Tasks), len(app.Executors))
	}
	if app.Stats.Unknown != 2 || app.ProfileSlots[3] != 1 || app.SlotsPerExecutor() != 1 {
		t.Fatalf("unknown events %d, want 2 (the BlockManagerAdded events)", app.Stats.Unknown)
	}
}

// Spark's codecs, each written here the way Spark's writer lays it out.
func lz4java(t *testing.T, data []byte) []byte {
	var out bytes.Buffer
	block := func(method byte, payload []byte, olen int) {
		out.WriteString(lz4BlockMagic)
		out.WriteByte(method)
		var h [12]byte
		binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
		binary.LittleEndian.PutUint32(h[4:], uint32(olen))
		out.Write(h[:])
		out.Write(payload)
	}
	half := len(data) / 2
	buf := make([]byte, lz4.CompressBlockBound(half))
	n, err := lz4.CompressBlock(data[:half], buf, nil)
	if err != nil || n == 0 {
		t.Fatalf("lz4: %v (%d)", err, n)
	}
	block(0x20|4, buf[:n], half)
	block(0x10, data[half:], len(data)-half) // a raw (incompressible) block
	block(0x10, nil, 0)                      // end of stream
	return out.Bytes()
}

func xerial(data []byte) []byte {
	var out bytes.Buffer
	out.Write(xerialMagic)
	out.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
	for len(data) > 0 {
		n := min(len(data), 1000)
		enc := snappy.Encode(nil, data[:n])
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(enc)))
		out.Write(l[:])
		out.Write(enc)
		data = data[n:]
	}
	return out.Bytes()
}

func gzipOf(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func zstdOf(t *testing.T, data []byte) []byte {
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.EncodeAll(data, nil)
}

func TestCodecsByExtension(t *testing.T) {
	plain := readSparkLog(t)
	dir := t.TempDir()
	files := map[string][]byte{
		"app.lz4":             lz4java(t, plain),
		"app.snappy":          xerial(plain),
		"app.zstd":            zstdOf(t, plain),
		"app.zstd.inprogress": zstdOf(t, plain),
		"app.json.gz":         gzipOf(plain),
		"app":                 plain,
	}
	for name, b := range files {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			rc, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("read %d bytes (err %v), want the %d plain bytes", len(got), err, len(plain))
			}
		})
	}
}

func TestCorruptCompressedLogIsAnError(t *testing.T) {
	plain := readSparkLog(t)
	for name, b := range map[string][]byte{
		"cut.lz4":      lz4java(t, plain)[:100],
		"bad.snappy":   append(xerial(plain)[:20], 0xff, 0xff, 0xff),
		"cut.zstd":     zstdOf(t, plain)[:50],
		"wrong.lz4":    plain,
		"app.lzf":      plain,
		"wrong.snappy": plain,
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := Load(p, true); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestRollingDirectoryReadsPartsInOrder(t *testing.T) {
	plain := readSparkLog(t)
	lines := bytes.SplitAfter(plain, []byte("\n"))
	dir := filepath.Join(t.TempDir(), "eventlog_v2_app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cut := len(lines) / 2
	part1 := bytes.Join(lines[:cut], nil)
	part2 := bytes.Join(lines[cut:], nil)
	// Part 10 sorts before part 2 as a string: the reader orders by number.
	os.WriteFile(filepath.Join(dir, "events_2_app.zstd"), zstdOf(t, part2), 0o644)
	os.WriteFile(filepath.Join(dir, "events_1_app.lz4"), lz4java(t, part1), 0o644)
	os.WriteFile(filepath.Join(dir, "appstatus_app"), nil, 0o644)
	app, err := Load(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Stages[0].Tasks) != 6 || app.End == 0 {
		t.Fatalf("%d tasks, end %d", len(app.Stages[0].Tasks), app.End)
	}
}

// FuzzReadEvents: no input makes reading or building panic.
func FuzzReadEvents(f *testing.F) {
	f.Add([]byte(`{"Event":"SparkListenerApplicationStart","Timestamp":1}` + "\n" + `{"Event":"SparkListenerTaskEnd","Stage ID":0,"Task Info":{}}`))
	f.Add([]byte(`{"Event":"SparkListenerJobStart","Job ID":0,"Stage Infos":[{"Stage ID":1,"Parent IDs":[0]}]}`))
	f.Add([]byte(`{"Event":"SparkListenerEnvironmentUpdate","Spark Properties":[["a","b"]]}`))
	f.Add([]byte(`{"Event":"SparkListenerApplicationStart","Timestamp":1}` + "\n" + `{"Event":"SparkListenerJobEnd"}` + "\n" + `{"Event":"SparkListenerUnpersistRDD"}`))
	f.Add([]byte("{\"Event\":\"SparkListenerStageSubmitted\"}\n{\"Ev"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, strict := range []bool{true, false} {
			app, err := Read(bytes.NewReader(b), strict)
			if err == nil && app != nil {
				spec, err := ParsePolicy("spark", app.EffectiveConf(), nil)
				if err == nil {
					// Errors are fine (a stuck or too long run); panics are not.
					Simulate(app, spec, DefaultOptions())
					Replay(app, spec.Config, 0)
				}
			}
		}
	})
}
