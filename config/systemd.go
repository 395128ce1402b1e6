package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// MemoryMaxBytes returns MemoryMax in bytes; ok is false when no limit is
// set. "infinity" returns math.MaxUint64, true (systemd's "infinity").
// A MemoryMax that is not valid (which Validate reports) also returns
// ok false.
func (s Systemd) MemoryMaxBytes() (n uint64, ok bool) {
	if s.MemoryMax == "" {
		return 0, false
	}
	n, err := parseSize(s.MemoryMax)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

// CPUQuotaPerSecUSec returns CPUQuota as systemd's CPUQuotaPerSecUSec
// property: the CPU time the generation may use per second of wall time,
// in microseconds (percent × 10000 µs, so "150%" is 1500000); ok is false
// when no quota is set. A CPUQuota that is not valid (which Validate
// reports) also returns ok false.
func (s Systemd) CPUQuotaPerSecUSec() (usec uint64, ok bool) {
	if s.CPUQuota == "" {
		return 0, false
	}
	hundredths, err := parsePercent(s.CPUQuota)
	if err != nil || hundredths == 0 {
		return 0, false
	}
	return hundredths * 100, true
}

var (
	errNotNumber = errors.New("not a number in the expected syntax")
	errTooLarge  = errors.New("too large")
)

// sizeShifts are the suffixes of a size in systemd syntax, base 1024.
var sizeShifts = map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}

// parseSize parses a size as systemd writes it: bytes with an optional K,
// M, G or T suffix (base 1024), or "infinity" (math.MaxUint64). It returns
// errNotNumber or errTooLarge.
func parseSize(s string) (uint64, error) {
	if s == "infinity" {
		return math.MaxUint64, nil
	}
	var shift uint
	if s != "" {
		if sh, ok := sizeShifts[s[len(s)-1]]; ok {
			shift, s = sh, s[:len(s)-1]
		}
	}
	n, err := parseDigits(s)
	if err != nil {
		return 0, err
	}
	if n > math.MaxUint64>>shift || n<<shift == math.MaxUint64 {
		return 0, errTooLarge
	}
	return n << shift, nil
}

// maxPercent bounds the whole percent of a quota, so that the quota in
// microseconds stays below systemd's "infinity" (math.MaxUint64).
const maxPercent = math.MaxUint64/10000 - 1

// parsePercent parses a percentage as systemd takes a CPU quota: "150%"
// or, with at most two decimals, "12.5%". It returns hundredths of a
// percent, or errNotNumber or errTooLarge.
func parsePercent(s string) (uint64, error) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, errNotNumber
	}
	whole, frac, dot := strings.Cut(num, ".")
	n, err := parseDigits(whole)
	if err != nil {
		return 0, err
	}
	if n > maxPercent {
		return 0, errTooLarge
	}
	n *= 100
	if dot {
		if len(frac) > 2 {
			return 0, errNotNumber
		}
		f, err := parseDigits(frac)
		if err != nil {
			return 0, err
		}
		if len(frac) == 1 {
			f *= 10
		}
		n += f
	}
	return n, nil
}

// parseDigits parses a non-empty string of ASCII digits.
func parseDigits(s string) (uint64, error) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, errNotNumber
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errTooLarge // only digits: the one error is the range
	}
	return n, nil
}
