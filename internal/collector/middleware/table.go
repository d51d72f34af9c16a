package middleware

import "regexp"

// Runtimes a spec may run on instead of a binary of its own.
const (
	runtimeNative = ""
	runtimeJava   = "java"
	runtimeBEAM   = "beam"
)

// spec describes one kind of middleware. Adding one is adding a row to
// specs.
type spec struct {
	name string
	kind string
	// runtime is "" for a server with a binary of its own, recognised
	// by exes; "java" or "beam" for one recognised by markers among the
	// arguments of that runtime.
	runtime string
	// exes are executable base names (exe, comm or argv[0]); a trailing
	// "*" matches any suffix ("php-fpm*" matches "php-fpm8.2").
	exes []string
	// markers are arguments (a Java main class, an Erlang app) that
	// identify the server among processes of its runtime.
	markers []string
	// packages are path.Match patterns of package names (deb, rpm and
	// apk spellings), the main server package first.
	packages []string
	// configFlags name the config file on the command line ("-c FILE",
	// "--config=FILE"); configArg is the extension of a config file
	// given as a plain argument (redis-server FILE.conf).
	configFlags []string
	configArg   string
	// configs are default config paths (path.Match patterns allowed),
	// reported when they exist and the command line names none.
	configs []string
	// jar is a path.Match pattern of the jar that carries the version of
	// a Java server, looked for in its classpath.
	jar string
	// buildinfo: the server is a Go program whose build information may
	// carry its version.
	buildinfo bool
	// binaryVersion finds the version embedded in the executable.
	binaryVersion *regexp.Regexp
}

// Kinds of generic applications, matched after every spec.
const (
	appJava   = "java"
	appPython = "python"
	appNode   = "node"
)

var specs = []*spec{
	{
		name: "nginx", kind: "web", exes: []string{"nginx"},
		packages:      []string{"nginx", "nginx-core", "nginx-light", "nginx-full", "nginx-extras", "nginx-mainline"},
		configFlags:   []string{"-c"},
		configs:       []string{"/etc/nginx/nginx.conf", "/usr/local/nginx/conf/nginx.conf", "/usr/local/etc/nginx/nginx.conf"},
		binaryVersion: regexp.MustCompile(`nginx version: (?:nginx|openresty)/(\d+\.\d+\.\d+[0-9.]*)`),
	},
	{
		name: "apache", kind: "web", exes: []string{"apache2", "httpd"},
		packages:      []string{"apache2", "apache2-bin", "httpd", "apache2-mpm-*"},
		configFlags:   []string{"-f"},
		configs:       []string{"/etc/apache2/apache2.conf", "/etc/httpd/conf/httpd.conf", "/etc/apache2/httpd.conf"},
		binaryVersion: regexp.MustCompile(`Apache/(\d+\.\d+\.\d+)`),
	},
	{
		name: "tomcat", kind: "web", runtime: runtimeJava,
		markers:  []string{"org.apache.catalina.startup.Bootstrap"},
		packages: []string{"tomcat[0-9]*", "tomcat"},
		configs:  []string{"/etc/tomcat[0-9]*/server.xml", "/etc/tomcat/server.xml"},
	},
	{
		name: "redis", kind: "cache", exes: []string{"redis-server"},
		packages:  []string{"redis-server", "redis", "redis[0-9]*"},
		configArg: ".conf",
		configs:   []string{"/etc/redis/redis.conf", "/etc/redis.conf", "/etc/redis/default.conf"},
	},
	{
		name: "memcached", kind: "cache", exes: []string{"memcached"},
		packages:      []string{"memcached"},
		configs:       []string{"/etc/memcached.conf", "/etc/sysconfig/memcached", "/etc/conf.d/memcached"},
		binaryVersion: regexp.MustCompile(`memcached (\d+\.\d+\.\d+)`),
	},
	{
		name: "mariadb", kind: "database", exes: []string{"mariadbd"},
		packages:      []string{"mariadb-server", "mariadb-server-core*", "mariadb-server-[0-9]*", "mariadb"},
		configFlags:   []string{"--defaults-file", "--defaults-extra-file"},
		configs:       []string{"/etc/mysql/my.cnf", "/etc/my.cnf", "/etc/mysql/mariadb.cnf"},
		binaryVersion: regexp.MustCompile(`(\d+\.\d+\.\d+)-MariaDB`),
	},
	{
		name: "mysql", kind: "database", exes: []string{"mysqld"},
		packages:    []string{"mysql-server", "mysql-server-core-*", "mysql-server-[0-9]*", "mysql-community-server", "percona-server-server*"},
		configFlags: []string{"--defaults-file", "--defaults-extra-file"},
		configs:     []string{"/etc/mysql/my.cnf", "/etc/my.cnf"},
	},
	{
		name: "postgresql", kind: "database", exes: []string{"postgres", "postmaster"},
		packages:      []string{"postgresql-[0-9]*", "postgresql*-server", "postgresql[0-9][0-9]"},
		configFlags:   []string{"config_file"},
		configs:       []string{"/etc/postgresql/*/main/postgresql.conf", "/var/lib/pgsql/data/postgresql.conf", "/var/lib/postgresql/data/postgresql.conf"},
		binaryVersion: regexp.MustCompile(`postgres \(PostgreSQL\) (\d+(?:\.\d+)+)`),
	},
	{
		name: "mongodb", kind: "database", exes: []string{"mongod"},
		packages:    []string{"mongodb-org-server", "mongodb-server", "mongodb"},
		configFlags: []string{"--config", "-f"},
		configs:     []string{"/etc/mongod.conf", "/etc/mongodb.conf"},
	},
	{
		name: "elasticsearch", kind: "search", runtime: runtimeJava,
		markers:     []string{"org.elasticsearch.bootstrap.Elasticsearch"},
		packages:    []string{"elasticsearch"},
		configFlags: []string{"-Des.path.conf"},
		configs:     []string{"/etc/elasticsearch/elasticsearch.yml"},
		jar:         "elasticsearch-[0-9]*.jar",
	},
	{
		name: "kafka", kind: "queue", runtime: runtimeJava,
		markers:   []string{"kafka.Kafka"},
		packages:  []string{"kafka", "confluent-kafka", "confluent-server"},
		configArg: ".properties",
		configs:   []string{"/etc/kafka/server.properties", "/opt/kafka/config/server.properties"},
		jar:       "kafka_*.jar",
	},
	{
		name: "zookeeper", kind: "database", runtime: runtimeJava,
		markers:   []string{"org.apache.zookeeper.server.quorum.QuorumPeerMain", "org.apache.zookeeper.server.ZooKeeperServerMain"},
		packages:  []string{"zookeeperd", "zookeeper"},
		configArg: ".cfg",
		configs:   []string{"/etc/zookeeper/conf/zoo.cfg", "/etc/zookeeper/zoo.cfg"},
		jar:       "zookeeper-[0-9]*.jar",
	},
	{
		name: "rabbitmq", kind: "queue", runtime: runtimeBEAM,
		markers:  []string{"rabbit"},
		packages: []string{"rabbitmq-server"},
		configs:  []string{"/etc/rabbitmq/rabbitmq.conf", "/etc/rabbitmq/rabbitmq.config", "/etc/rabbitmq/advanced.config"},
	},
	{
		name: "docker", kind: "container", exes: []string{"dockerd"},
		packages:    []string{"docker.io", "docker-ce", "docker", "moby-engine"},
		configFlags: []string{"--config-file"},
		configs:     []string{"/etc/docker/daemon.json"},
		buildinfo:   true,
	},
	{
		name: "containerd", kind: "container", exes: []string{"containerd"},
		packages:    []string{"containerd", "containerd.io"},
		configFlags: []string{"--config", "-c"},
		configs:     []string{"/etc/containerd/config.toml"},
		buildinfo:   true,
	},
	{
		name: "php-fpm", kind: "runtime", exes: []string{"php-fpm*"},
		packages:      []string{"php*-fpm"},
		configFlags:   []string{"--fpm-config", "-y"},
		configs:       []string{"/etc/php/*/fpm/php-fpm.conf", "/etc/php-fpm.conf", "/etc/php*/php-fpm.conf"},
		binaryVersion: regexp.MustCompile(`X-Powered-By: PHP/(\d+\.\d+\.\d+)`),
	},
}
