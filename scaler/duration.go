package scaler

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Infinite is the duration sparkdra uses for Spark's "never" timeouts
// (`cachedExecutorIdleTimeout` = Integer.MAX_VALUE seconds is kept as is, but
// `shuffleTracking.timeout` = Long.MAX_VALUE milliseconds saturates here).
// Deadlines computed from it never arrive.
const Infinite = time.Duration(math.MaxInt64)

// timeUnit is the unit a bare number of a Spark time property is read in
// (docs/spark-dra.md §1, "unit column"), and the unit Spark keeps the value in.
type timeUnit time.Duration

const (
	unitMicros  = timeUnit(time.Microsecond)
	unitMillis  = timeUnit(time.Millisecond)
	unitSeconds = timeUnit(time.Second)
	unitMinutes = timeUnit(time.Minute)
	unitHours   = timeUnit(time.Hour)
	unitDays    = timeUnit(24 * time.Hour)
)

// timeSuffixes are the suffixes of Spark's time strings (JavaUtils.timeStringAs).
var timeSuffixes = map[string]timeUnit{
	"us":  unitMicros,
	"ms":  unitMillis,
	"s":   unitSeconds,
	"m":   unitMinutes,
	"min": unitMinutes,
	"h":   unitHours,
	"d":   unitDays,
}

// errTimeSyntax is Spark's explanation of its time syntax, appended to every
// duration parse error.
var errTimeSyntax = errors.New("time must be specified as seconds (s), milliseconds (ms), " +
	"microseconds (us), minutes (m or min), hour (h), or day (d), e.g. 50s, 100ms, or 250us")

// ParseSparkDuration parses a Spark time string the way Spark's
// JavaUtils.timeStringAs does and returns it as a duration after Spark's
// conversion into unit: an optionally negative integer with an optional
// case-insensitive suffix (us, ms, s, m, min, h, d), surrounding spaces
// ignored, no fractions. A bare number is read in unit. The value is then
// truncated to whole units, as Spark's TimeUnit.convert does ("500ms" read
// in seconds is 0), and saturates at ±Infinite on overflow.
//
// Errors name the offending text and the syntax; they never panic.
func ParseSparkDuration(s string, unit time.Duration) (time.Duration, error) {
	if unit <= 0 {
		return 0, fmt.Errorf("invalid unit %v", unit)
	}
	lower := strings.ToLower(strings.TrimSpace(s))
	i := 0
	if i < len(lower) && lower[i] == '-' {
		i++
	}
	digits := i
	for i < len(lower) && lower[i] >= '0' && lower[i] <= '9' {
		i++
	}
	if i == digits {
		return 0, fmt.Errorf("failed to parse time string %q: %w", s, errTimeSyntax)
	}
	num, suffix := lower[:i], lower[i:]
	for _, r := range suffix {
		if r < 'a' || r > 'z' {
			return 0, fmt.Errorf("failed to parse time string %q: %w", s, errTimeSyntax)
		}
	}
	val, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("failed to parse time string %q (out of range): %w", s, errTimeSyntax)
	}
	from := timeUnit(unit)
	if suffix != "" {
		u, ok := timeSuffixes[suffix]
		if !ok {
			return 0, fmt.Errorf("invalid suffix %q in time string %q: %w", suffix, s, errTimeSyntax)
		}
		from = u
	}
	// Spark converts into the key's unit (truncating), then we express that
	// count of units as a Go duration, saturating like TimeUnit.convert.
	inUnit := convertUnits(val, from, timeUnit(unit))
	return time.Duration(saturatingMul(inUnit, int64(unit))), nil
}

// convertUnits converts val from one unit to another, truncating toward zero
// and saturating at the int64 bounds (java.util.concurrent.TimeUnit.convert).
func convertUnits(val int64, from, to timeUnit) int64 {
	switch {
	case from == to:
		return val
	case from > to:
		return saturatingMul(val, int64(from/to))
	default:
		return val / int64(to/from)
	}
}

// saturatingMul returns val*factor (factor > 0), clamped to the int64 range.
func saturatingMul(val, factor int64) int64 {
	switch {
	case val > 0 && val > math.MaxInt64/factor:
		return math.MaxInt64
	case val < 0 && val < math.MinInt64/factor:
		return math.MinInt64
	}
	return val * factor
}
