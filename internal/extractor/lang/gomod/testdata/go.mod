module github.com/example/webapp

go 1.22.0

toolchain go1.22.5

require (
	github.com/gin-gonic/gin v1.9.0
	github.com/golang-jwt/jwt/v4 v4.4.1
	golang.org/x/net v0.17.0
	gopkg.in/yaml.v3 v3.0.0-20210107192922-496545a6307b
)

require (
	github.com/bytedance/sonic v1.8.0 // indirect
	github.com/BurntSushi/toml v1.2.1 // indirect
	golang.org/x/crypto v0.14.0 // indirect
	golang.org/x/text v0.13.0 // indirect
)

replace golang.org/x/net v0.17.0 => golang.org/x/net v0.23.0

replace github.com/bytedance/sonic => ../sonic

exclude golang.org/x/text v0.12.0

retract v0.1.0 // published by mistake
