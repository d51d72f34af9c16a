package image

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/vigilsec/vigil/internal/collector/host"
	"github.com/vigilsec/vigil/internal/inventory"
)

// DetectOS reads the distribution of an extracted image root from
// etc/os-release or usr/lib/os-release (os-release(5)), falling back to
// etc/alpine-release, etc/redhat-release and etc/debian_version for
// images older than os-release. It returns an error wrapping ErrNoOS when
// there is none (scratch, busybox and distroless-static images).
//
// root is typically os.DirFS or (os.Root).FS of the Extract destination;
// Extract rewrites every symlink to stay inside it, so os-release links
// such as ../usr/lib/os-release resolve within the image.
func DetectOS(root fs.FS) (inventory.OSRelease, error) {
	for _, p := range []string{"etc/os-release", "usr/lib/os-release"} {
		f, err := root.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return inventory.OSRelease{}, fmt.Errorf("open /%s: %w", p, err)
		}
		kv, err := host.ParseOSRelease(io.LimitReader(f, 1<<20))
		f.Close()
		if err != nil {
			return inventory.OSRelease{}, fmt.Errorf("/%s: %w", p, err)
		}
		var like []string
		if f := strings.Fields(kv["ID_LIKE"]); len(f) > 0 {
			like = f
		}
		return inventory.OSRelease{
			ID:              kv["ID"],
			IDLike:          like,
			Name:            kv["NAME"],
			PrettyName:      kv["PRETTY_NAME"],
			Version:         kv["VERSION"],
			VersionID:       kv["VERSION_ID"],
			VersionCodename: kv["VERSION_CODENAME"],
		}, nil
	}
	if v := firstLine(root, "etc/alpine-release"); v != "" {
		return inventory.OSRelease{ID: "alpine", Name: "Alpine Linux", VersionID: v}, nil
	}
	if v := firstLine(root, "etc/redhat-release"); v != "" {
		return inventory.OSRelease{ID: "rhel", PrettyName: v}, nil
	}
	if v := firstLine(root, "etc/debian_version"); v != "" {
		return inventory.OSRelease{ID: "debian", Name: "Debian GNU/Linux", VersionID: v}, nil
	}
	return inventory.OSRelease{}, ErrNoOS
}

func firstLine(root fs.FS, name string) string {
	f, err := root.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 4096))
	if sc.Scan() {
		return strings.TrimSpace(sc.Text())
	}
	return ""
}
