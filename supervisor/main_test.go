package supervisor

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"github.com/gatewayd/gateway/internal/shim"
)

// envTestWorker makes the test binary a worker app (see testWorkerMain);
// the end-to-end tests with the process runner start it that way.
const envTestWorker = "SUPERVISOR_TEST_WORKER"

func TestMain(m *testing.M) {
	// The process runner starts its own executable as the shim: in a test,
	// that is this binary.
	if shim.Active() {
		os.Exit(shim.Main())
	}
	if os.Getenv(envTestWorker) == "http" {
		os.Exit(testWorkerMain())
	}
	os.Exit(m.Run())
}

// testWorkerMain is a minimal app: it serves HTTP on the socket-activated
// fd 3 or on 127.0.0.1:$PORT, names itself in every answer, and exits 0
// on SIGTERM.
func testWorkerMain() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	var ln net.Listener
	var err error
	if os.Getenv("LISTEN_FDS") != "" {
		if got, want := os.Getenv("LISTEN_PID"), strconv.Itoa(os.Getpid()); got != want {
			fmt.Fprintf(os.Stderr, "test worker: LISTEN_PID=%s, want my pid %s\n", got, want)
			return 2
		}
		ln, err = net.FileListener(os.NewFile(3, os.Getenv("LISTEN_FDNAMES")))
	} else {
		ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", os.Getenv("PORT")))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "test worker: %v\n", err)
		return 2
	}
	fmt.Printf("test worker %d listening on %s\n", os.Getpid(), ln.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The process group is the worker's pid: the process runner's keeper
		// leads it, with the app as its child.
		fmt.Fprintf(w, "pgrp=%d generation=%s instance=%s revision=%s\n", syscall.Getpgrp(),
			os.Getenv("GATEWAY_GENERATION"), os.Getenv("GATEWAY_INSTANCE"), os.Getenv("GATEWAY_REVISION"))
	})}
	go srv.Serve(ln)
	<-sig
	srv.Close()
	fmt.Println("test worker stopping")
	return 0
}
