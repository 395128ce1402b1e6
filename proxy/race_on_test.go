//go:build race

package proxy

// raceDetector is set when the tests run with -race, which makes large
// transfers several times slower.
const raceDetector = true
