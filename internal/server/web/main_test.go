package web

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// httptest servers and stores are closed by each test's cleanup; the
	// HTTP client's idle keep-alive connections close with them.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}
