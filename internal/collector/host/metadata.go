package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vigilsec/vigil/internal/inventory"
)

// metadataQuery reads instance details from one provider's metadata
// service at base.
type metadataQuery func(ctx context.Context, c *http.Client, base string) (*inventory.Cloud, error)

var metadataQueries = map[string]metadataQuery{
	"aws":     queryAWS,
	"gcp":     queryGCP,
	"azure":   queryAzure,
	"alibaba": queryECSLike,
	"tencent": queryTencent,
}

// maxMetadataBody bounds what Vigil reads from a metadata response.
const maxMetadataBody = 64 << 10

func metadataGet(ctx context.Context, c *http.Client, method, url string, hdr map[string]string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return "", err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// queryAWS uses IMDSv2: a session token first, then the instance paths.
func queryAWS(ctx context.Context, c *http.Client, base string) (*inventory.Cloud, error) {
	token, err := metadataGet(ctx, c, http.MethodPut, base+"/latest/api/token",
		map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60"})
	if err != nil {
		return nil, err
	}
	hdr := map[string]string{"X-aws-ec2-metadata-token": token}
	id, err := metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/instance-id", hdr)
	if err != nil {
		return nil, err
	}
	cloud := &inventory.Cloud{InstanceID: id}
	cloud.Region, _ = metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/placement/region", hdr)
	cloud.Zone, _ = metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/placement/availability-zone", hdr)
	return cloud, nil
}

func queryGCP(ctx context.Context, c *http.Client, base string) (*inventory.Cloud, error) {
	hdr := map[string]string{"Metadata-Flavor": "Google"}
	id, err := metadataGet(ctx, c, http.MethodGet, base+"/computeMetadata/v1/instance/id", hdr)
	if err != nil {
		return nil, err
	}
	cloud := &inventory.Cloud{InstanceID: id}
	// The zone comes as "projects/<n>/zones/<region>-<letter>".
	if z, err := metadataGet(ctx, c, http.MethodGet, base+"/computeMetadata/v1/instance/zone", hdr); err == nil {
		cloud.Zone = z[strings.LastIndex(z, "/")+1:]
		if i := strings.LastIndex(cloud.Zone, "-"); i > 0 {
			cloud.Region = cloud.Zone[:i]
		}
	}
	return cloud, nil
}

func queryAzure(ctx context.Context, c *http.Client, base string) (*inventory.Cloud, error) {
	body, err := metadataGet(ctx, c, http.MethodGet, base+"/metadata/instance/compute?api-version=2021-02-01",
		map[string]string{"Metadata": "true"})
	if err != nil {
		return nil, err
	}
	var v struct {
		VMID     string `json:"vmId"`
		Location string `json:"location"`
		Zone     string `json:"zone"`
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return nil, fmt.Errorf("decode compute metadata: %w", err)
	}
	if v.VMID == "" {
		return nil, fmt.Errorf("compute metadata has no vmId")
	}
	return &inventory.Cloud{InstanceID: v.VMID, Region: v.Location, Zone: v.Zone}, nil
}

// queryECSLike reads Alibaba Cloud ECS metadata.
func queryECSLike(ctx context.Context, c *http.Client, base string) (*inventory.Cloud, error) {
	id, err := metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/instance-id", nil)
	if err != nil {
		return nil, err
	}
	cloud := &inventory.Cloud{InstanceID: id}
	cloud.Region, _ = metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/region-id", nil)
	cloud.Zone, _ = metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/zone-id", nil)
	return cloud, nil
}

// queryTencent reads Tencent Cloud CVM metadata.
func queryTencent(ctx context.Context, c *http.Client, base string) (*inventory.Cloud, error) {
	id, err := metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/instance-id", nil)
	if err != nil {
		return nil, err
	}
	cloud := &inventory.Cloud{InstanceID: id}
	cloud.Region, _ = metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/placement/region", nil)
	cloud.Zone, _ = metadataGet(ctx, c, http.MethodGet, base+"/latest/meta-data/placement/zone", nil)
	return cloud, nil
}
