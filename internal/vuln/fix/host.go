package fix

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/vigilsec/vigil/internal/collector"
	"github.com/vigilsec/vigil/internal/collector/packages"
	"github.com/vigilsec/vigil/internal/finding"
	"github.com/vigilsec/vigil/internal/image"
	"github.com/vigilsec/vigil/internal/plugin"
	"github.com/vigilsec/vigil/internal/scan"
	"github.com/vigilsec/vigil/internal/vuln/assess"
)

// HostOSFindings reads the OS package databases under rootPath ("/" for
// the live host) and matches them against db: the findings a fix can
// name. Packages that cannot be matched are left out, as `vigil scan`
// reports them partial.
func HostOSFindings(ctx context.Context, db assess.DB, rootPath string) ([]finding.Finding, error) {
	root := os.DirFS(rootPath)
	inv, err := packages.New().Collect(ctx, &collector.Input{Root: root, RootPath: rootPath})
	var pe *plugin.PartialError
	if err != nil && !errors.As(err, &pe) {
		return nil, fmt.Errorf("read the host's package databases: %w", err)
	}
	osr, err := image.DetectOS(root)
	if err != nil {
		return nil, fmt.Errorf("detect the host OS: %w", err)
	}
	scan.SetOSEcosystem(inv.Packages, osr)
	findings, err := assess.Match(ctx, db, inv.Packages)
	if err != nil && !errors.As(err, &pe) {
		return nil, err
	}
	return findings, nil
}
