package containers

import (
	"path"
	"strings"
)

// controlPaths give control of the host when a container can reach them
// or a directory that contains them: bind-mounting /var, for example,
// exposes /var/run/docker.sock.
var controlPaths = []string{
	"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root",
	"/run", "/sbin", "/sys", "/usr",
	"/run/containerd", "/run/crio", "/run/dbus", "/run/docker", "/run/docker.sock",
	"/run/podman", "/run/systemd",
	"/var/lib/containerd", "/var/lib/docker", "/var/lib/kubelet",
}

// controlTrees are directories anything inside of which is sensitive:
// host configuration, root's files, kernel interfaces, device nodes, boot
// files and container-engine state and sockets.
var controlTrees = []string{
	"/boot", "/dev", "/etc", "/proc", "/root", "/sys",
	"/run/containerd", "/run/crio", "/run/dbus", "/run/docker", "/run/podman", "/run/systemd",
	"/var/lib/containerd", "/var/lib/docker", "/var/lib/kubelet",
}

// harmless are paths (with what lies inside them) within controlTrees
// that images routinely mount and that give no control of the host.
var harmless = []string{
	"/etc/localtime", "/etc/timezone",
	"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/shm",
}

// SensitiveHostPath reports whether bind-mounting the host path p into a
// container gives the container control over the host: p is one of
// controlPaths or a parent of one, or lies inside one of controlTrees.
// /var/run is treated as /run, which it links to.
func SensitiveHostPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	p = path.Clean(p)
	if p == "/var/run" || strings.HasPrefix(p, "/var/run/") {
		p = "/run" + strings.TrimPrefix(p, "/var/run")
	}
	for _, h := range harmless {
		if p == h || within(p, h) {
			return false
		}
	}
	for _, c := range controlPaths {
		if c == p || within(c, p) {
			return true
		}
	}
	for _, t := range controlTrees {
		if within(p, t) {
			return true
		}
	}
	return false
}

// within reports whether p lies strictly inside dir.
func within(p, dir string) bool {
	if dir == "/" {
		return p != "/"
	}
	return strings.HasPrefix(p, dir+"/")
}
