// Package report holds what every `vigil scan` output format shares. The
// formats themselves live in subpackages (sarif, cyclonedx), each with one
// Write function.
package report

import (
	"net/url"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// Target is what a scan read.
type Target struct {
	// Type is "host", "rootfs", "dir" or "image".
	Type string
	// Name is the scanned root ("/", an absolute directory) or the image
	// reference or tarball as given.
	Name string
	// OS is the operating system found in the target, nil when none was.
	OS *inventory.OSRelease
}

// RelativeURI turns a location reported inside the scanned root
// ("/var/lib/dpkg/status", "/srv/app.war!WEB-INF/lib/x.jar") into a
// relative URI reference ("var/lib/dpkg/status"), escaped where a path
// byte is not allowed in a URI. It returns "" for an empty location or
// the root itself.
func RelativeURI(loc string) string {
	rel := strings.TrimLeft(loc, "/")
	if rel == "" {
		return ""
	}
	// url.URL.String keeps a relative path whose first segment holds a
	// colon from reading as a scheme by prefixing "./".
	return (&url.URL{Path: rel}).String()
}
