package supervisor

// Helpers of the internal tests for the end-to-end tests in package
// supervisor_test, which use the process runner (an import cycle for
// package supervisor's own tests).
var (
	WaitFor         = waitFor
	CheckGoroutines = checkGoroutines
)
