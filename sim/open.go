package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Codec is the compression of an event-log file, named by its extension
// the way Spark names it (spark.eventLog.compression.codec short names).
type Codec string

// Codecs Spark writes event logs with.
const (
	CodecNone   Codec = ""
	CodecLZ4    Codec = "lz4"
	CodecLZF    Codec = "lzf"
	CodecSnappy Codec = "snappy"
	CodecZstd   Codec = "zstd"
	// CodecGzip is not one of Spark's codecs but how logs are often
	// archived (e2e/testdata keeps its recordings as .json.gz).
	CodecGzip Codec = "gz"
)

// CodecOf returns the codec of an event-log file from its name: the last
// extension after an optional ".inprogress" (Spark's
// EventLogFileWriter.codecName). Any other extension means plain JSON
// lines, as Spark's own application ids contain dots rarely and never
// these words.
func CodecOf(name string) Codec {
	name = strings.TrimSuffix(name, ".inprogress")
	switch ext := strings.TrimPrefix(filepath.Ext(name), "."); ext {
	case "lz4", "lzf", "snappy", "zstd":
		return Codec(ext)
	case "zst":
		return CodecZstd
	case "gz":
		return CodecGzip
	}
	return CodecNone
}

// Open opens an event log for reading: a single file (plain or
// compressed), or a rolling event-log directory (eventlog_v2_<app>, whose
// events_<N>_<app>[.codec] parts are read in N order, each with its own
// codec). The caller closes the returned reader. Errors name the file.
func Open(path string) (io.ReadCloser, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return openFile(path)
	}
	parts, err := rollingParts(path)
	if err != nil {
		return nil, err
	}
	return &multiFile{paths: parts}, nil
}

// rollingParts lists the events_<N>_… files of a rolling event-log
// directory in index order.
func rollingParts(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	type part struct {
		n    int
		path string
	}
	var parts []part
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, "events_") {
			continue
		}
		if strings.HasSuffix(strings.TrimSuffix(name, ".inprogress"), ".compact") {
			return nil, fmt.Errorf("%s: compacted event logs are not supported (the compactor drops task events)", filepath.Join(dir, name))
		}
		rest := strings.TrimPrefix(name, "events_")
		i := strings.IndexByte(rest, '_')
		if i <= 0 {
			continue
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil {
			continue
		}
		parts = append(parts, part{n, filepath.Join(dir, name)})
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("%s: no events_<N>_<app> files in this rolling event-log directory", dir)
	}
	slices.SortFunc(parts, func(a, b part) int { return a.n - b.n })
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = p.path
	}
	return out, nil
}

// openFile opens one event-log file and wraps it in its codec's reader.
func openFile(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := Decompress(bufio.NewReaderSize(f, 1<<16), CodecOf(path))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{r, f}, nil
}

// Decompress wraps r in the reader of codec c. lz4 and snappy are the
// stream formats Spark's codecs write (lz4-java's LZ4BlockOutputStream and
// snappy-java's SnappyOutputStream), not the LZ4 frame or Snappy framing
// formats; zstd is standard zstd frames. lzf has no Go reader here and is
// an error.
func Decompress(r io.Reader, c Codec) (io.Reader, error) {
	switch c {
	case CodecNone:
		return r, nil
	case CodecLZ4:
		return &lz4BlockReader{r: r}, nil
	case CodecSnappy:
		return newXerialSnappyReader(r)
	case CodecZstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case CodecGzip:
		return gzip.NewReader(r)
	case CodecLZF:
		return nil, errors.New("the lzf codec is not supported; re-run with spark.eventLog.compression.codec=zstd, lz4 or snappy")
	}
	return nil, fmt.Errorf("unknown codec %q", string(c))
}

// multiFile reads the parts of a rolling event log one after the other.
type multiFile struct {
	paths []string
	cur   io.ReadCloser
}

func (m *multiFile) Read(p []byte) (int, error) {
	for {
		if m.cur == nil {
			if len(m.paths) == 0 {
				return 0, io.EOF
			}
			f, err := openFile(m.paths[0])
			if err != nil {
				return 0, err
			}
			m.cur, m.paths = f, m.paths[1:]
		}
		n, err := m.cur.Read(p)
		if err == io.EOF {
			m.cur.Close()
			m.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (m *multiFile) Close() error {
	if m.cur != nil {
		return m.cur.Close()
	}
	return nil
}

// lz4BlockReader reads lz4-java's block stream: blocks of "LZ4Block", a
// token (method in the high nibble: 0x10 raw, 0x20 LZ4), compressed and
// original lengths and a checksum (little-endian int32s), then the data.
// An empty block ends a stream; another stream may follow. The xxhash32
// checksum is not verified (no standard-library xxhash32); the LZ4
// decoder still rejects corrupt blocks.
type lz4BlockReader struct {
	r   io.Reader
	buf []byte
	out []byte
}

const lz4BlockMagic = "LZ4Block"

func (z *lz4BlockReader) Read(p []byte) (int, error) {
	for len(z.out) == 0 {
		if err := z.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, z.out)
	z.out = z.out[n:]
	return n, nil
}

func (z *lz4BlockReader) next() error {
	var h [21]byte
	if _, err := io.ReadFull(z.r, h[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return errors.New("lz4: truncated block header")
		}
		return err
	}
	if string(h[:8]) != lz4BlockMagic {
		return errors.New("lz4: not an lz4-java block stream (bad magic)")
	}
	method := h[8] & 0xf0
	clen := int(int32(binary.LittleEndian.Uint32(h[9:])))
	olen := int(int32(binary.LittleEndian.Uint32(h[13:])))
	if clen < 0 || olen < 0 || olen > 1<<26 || clen > 1<<26 {
		return fmt.Errorf("lz4: bad block lengths %d/%d", clen, olen)
	}
	if olen == 0 {
		return nil // end of one stream; another may follow
	}
	z.buf = slices.Grow(z.buf[:0], clen)[:clen]
	if _, err := io.ReadFull(z.r, z.buf); err != nil {
		return errors.New("lz4: truncated block")
	}
	switch method {
	case 0x10:
		z.out = append(z.out[:0], z.buf...)
	case 0x20:
		out := make([]byte, olen)
		n, err := lz4.UncompressBlock(z.buf, out)
		if err != nil || n != olen {
			return fmt.Errorf("lz4: corrupt block (%d of %d bytes): %v", n, olen, err)
		}
		z.out = out
	default:
		return fmt.Errorf("lz4: unknown compression method 0x%x", method)
	}
	return nil
}

// xerialSnappyReader reads snappy-java's SnappyOutputStream format: the
// 8-byte magic "\x82SNAPPY\x00", two big-endian int32 versions, then
// chunks of a big-endian int32 length and one raw snappy block.
type xerialSnappyReader struct {
	r   io.Reader
	buf []byte
	out []byte
}

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func newXerialSnappyReader(r io.Reader) (io.Reader, error) {
	var h [16]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("snappy: short header: %w", err)
	}
	if !bytes.Equal(h[:8], xerialMagic) {
		return nil, errors.New("snappy: not a snappy-java stream (bad magic)")
	}
	return &xerialSnappyReader{r: r}, nil
}

func (s *xerialSnappyReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		var l [4]byte
		if _, err := io.ReadFull(s.r, l[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				return 0, errors.New("snappy: truncated chunk length")
			}
			return 0, err
		}
		n := int(int32(binary.BigEndian.Uint32(l[:])))
		if n < 0 || n > 1<<26 {
			return 0, fmt.Errorf("snappy: bad chunk length %d", n)
		}
		s.buf = slices.Grow(s.buf[:0], n)[:n]
		if _, err := io.ReadFull(s.r, s.buf); err != nil {
			return 0, errors.New("snappy: truncated chunk")
		}
		out, err := snappy.Decode(nil, s.buf)
		if err != nil {
			return 0, fmt.Errorf("snappy: corrupt chunk: %w", err)
		}
		s.out = out
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}
