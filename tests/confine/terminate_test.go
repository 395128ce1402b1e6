package confine

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestTerminate walks the steps of Terminate with processes that end at
// each of them.
func TestTerminate(t *testing.T) {
	h := Harness{Name: "confine", Prefix: "gwconfine-", Timeout: 300 * time.Millisecond}
	for _, c := range []struct {
		name       string
		ignoreTerm bool
		stepKills  bool
		wantStep   bool
		wantKill   bool // the log says SIGKILL
	}{
		{name: "SIGTERM"},
		{name: "Step", ignoreTerm: true, stepKills: true, wantStep: true},
		{name: "SIGKILL", ignoreTerm: true, wantStep: true, wantKill: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			script := "read x"
			if c.ignoreTerm {
				script = "trap '' TERM; read x" // read is a builtin: no child left
			}
			cmd := exec.Command("sh", "-c", script)
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			cmd.Stdin = r
			exited := make(chan struct{})
			if err := StartLocked(cmd, func(error) { close(exited) }); err != nil {
				t.Fatal(err)
			}
			r.Close()
			defer func() { _ = cmd.Process.Kill(); <-exited }()
			time.Sleep(100 * time.Millisecond) // the trap is set

			var log []string
			logf := func(f string, a ...any) { log = append(log, fmt.Sprintf(f, a...)) }
			stepped := false
			err = h.Terminate(Ending{
				Process: cmd.Process, What: "the probe", Exited: exited, Grace: 200 * time.Millisecond,
				Step: func() {
					stepped = true
					if c.stepKills {
						_ = cmd.Process.Kill()
					}
				},
			}, logf)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			default:
				t.Fatal("Terminate returned before the process was reaped")
			}
			if stepped != c.wantStep {
				t.Errorf("Step called: %v, want %v", stepped, c.wantStep)
			}
			if got := strings.Contains(strings.Join(log, "\n"), "confine: the probe (pid "); got != c.wantKill {
				t.Errorf("log %q; want a SIGKILL line: %v", log, c.wantKill)
			}
			// Once reaped, Terminate does nothing.
			if err := h.Terminate(Ending{Process: cmd.Process, Exited: exited, Step: func() { t.Error("Step after exit") }}, logf); err != nil {
				t.Errorf("Terminate after exit: %v", err)
			}
		})
	}
}
