package middleware

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilsec/vigil/internal/inventory"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		p    inventory.Process
		want string // spec name, or generic application kind
	}{
		{name: "nginx_title", p: inventory.Process{Name: "nginx", Exe: "/usr/sbin/nginx",
			Args: []string{"nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"}}, want: "nginx"},
		{name: "redis_via_symlink", p: inventory.Process{Name: "redis-server", Exe: "/usr/bin/redis-check-rdb",
			Args: []string{"/usr/bin/redis-server 127.0.0.1:6379"}}, want: "redis"},
		{name: "apache_rhel", p: inventory.Process{Name: "httpd", Exe: "/usr/sbin/httpd",
			Args: []string{"/usr/sbin/httpd", "-DFOREGROUND"}}, want: "apache"},
		{name: "mariadb_as_mysqld", p: inventory.Process{Name: "mysqld", Exe: "/usr/sbin/mariadbd",
			Args: []string{"/usr/sbin/mysqld", "--basedir=/usr"}}, want: "mariadb"},
		{name: "mysql", p: inventory.Process{Name: "mysqld", Exe: "/usr/sbin/mysqld",
			Args: []string{"/usr/sbin/mysqld"}}, want: "mysql"},
		{name: "php_fpm", p: inventory.Process{Name: "php-fpm8.2", Exe: "/usr/sbin/php-fpm8.2",
			Args: []string{"php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"}}, want: "php-fpm"},
		{name: "elasticsearch_8", p: inventory.Process{Name: "java", Exe: "/usr/share/elasticsearch/jdk/bin/java",
			Args: []string{"/usr/share/elasticsearch/jdk/bin/java", "-Des.path.home=/usr/share/elasticsearch",
				"--module-path", "/usr/share/elasticsearch/lib", "-m",
				"org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch"}}, want: "elasticsearch"},
		{name: "kafka", p: inventory.Process{Name: "java", Exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java",
			Args: []string{"java", "-Xmx1G", "-cp", "/opt/kafka/libs/kafka_2.13-3.6.1.jar", "kafka.Kafka",
				"/opt/kafka/config/server.properties"}}, want: "kafka"},
		{name: "zookeeper", p: inventory.Process{Name: "java", Exe: "/usr/bin/java",
			Args: []string{"java", "-cp", "/usr/share/java/zookeeper.jar",
				"org.apache.zookeeper.server.quorum.QuorumPeerMain", "/etc/zookeeper/conf/zoo.cfg"}}, want: "zookeeper"},
		{name: "rabbitmq", p: inventory.Process{Name: "beam.smp", Exe: "/usr/lib/erlang/erts-13.1.5/bin/beam.smp",
			Args: []string{"/usr/lib/erlang/erts-13.1.5/bin/beam.smp", "-W", "w", "--", "-root", "/usr/lib/erlang",
				"-progname", "erl", "--", "-home", "/var/lib/rabbitmq", "--", "-pa", "", "-noshell", "-noinput",
				"-s", "rabbit", "boot", "-boot", "start_sasl"}}, want: "rabbitmq"},
		{name: "other_beam", p: inventory.Process{Name: "beam.smp", Exe: "/usr/lib/erlang/erts-13.1.5/bin/beam.smp",
			Args: []string{"beam.smp", "-s", "couch"}}, want: ""},
		{name: "containerd_shim", p: inventory.Process{Name: "containerd-shim", Exe: "/usr/bin/containerd-shim-runc-v2",
			Args: []string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "moby"}}, want: ""},
		{name: "java_app", p: inventory.Process{Name: "java", Exe: "/usr/bin/java",
			Args: []string{"java", "-jar", "/srv/app.jar"}}, want: appJava},
		{name: "python_app", p: inventory.Process{Name: "python3", Exe: "/usr/bin/python3.11",
			Args: []string{"python3", "app.py"}}, want: appPython},
		{name: "node_app", p: inventory.Process{Name: "node", Exe: "/usr/bin/node",
			Args: []string{"node", "index.js"}}, want: appNode},
		{name: "python_lookalike", p: inventory.Process{Name: "pythonista", Exe: "/usr/bin/pythonista"}, want: ""},
		{name: "editor_on_config", p: inventory.Process{Name: "vim", Exe: "/usr/bin/vim",
			Args: []string{"vim", "/etc/nginx/nginx.conf"}}, want: ""},
		{name: "kernel_thread", p: inventory.Process{Name: "kworker/0:1"}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, app := match(&tc.p, tokens(&tc.p))
			got := app
			if s != nil {
				got = s.name
			}
			if got != tc.want {
				t.Errorf("match() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigFromArgs(t *testing.T) {
	spec := func(name string) *spec {
		for _, s := range specs {
			if s.name == name {
				return s
			}
		}
		t.Fatalf("no spec %q", name)
		return nil
	}
	tests := []struct {
		name string
		spec string
		args string
		want string
	}{
		{name: "nginx_c", spec: "nginx", args: "nginx: master process /usr/sbin/nginx -c /srv/nginx.conf -g daemon off;", want: "/srv/nginx.conf"},
		{name: "nginx_none", spec: "nginx", args: "nginx: master process /usr/sbin/nginx", want: ""},
		{name: "apache_f", spec: "apache", args: "/usr/sbin/httpd -f /etc/httpd/conf/alt.conf -DFOREGROUND", want: "/etc/httpd/conf/alt.conf"},
		{name: "redis_arg", spec: "redis", args: "redis-server 127.0.0.1:6379  /etc/redis/redis.conf", want: "/etc/redis/redis.conf"},
		{name: "redis_title", spec: "redis", args: "/usr/bin/redis-server 127.0.0.1:6379", want: ""},
		{name: "mysql_defaults", spec: "mysql", args: "/usr/sbin/mysqld --defaults-file=/etc/mysql/alt.cnf --user=mysql", want: "/etc/mysql/alt.cnf"},
		{name: "postgres_config_file", spec: "postgresql", args: "/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf", want: "/etc/postgresql/15/main/postgresql.conf"},
		{name: "postgres_datadir", spec: "postgresql", args: "/usr/pgsql-16/bin/postmaster -D /var/lib/pgsql/16/data/", want: "/var/lib/pgsql/16/data/postgresql.conf"},
		{name: "mongod_config", spec: "mongodb", args: "/usr/bin/mongod --config /etc/mongod.conf", want: "/etc/mongod.conf"},
		{name: "php_fpm_title", spec: "php-fpm", args: "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)", want: "/etc/php/8.2/fpm/php-fpm.conf"},
		{name: "tomcat_base", spec: "tomcat", args: "java -Dcatalina.base=/var/lib/tomcat9/ -Dcatalina.home=/usr/share/tomcat9 org.apache.catalina.startup.Bootstrap start", want: "/var/lib/tomcat9/conf/server.xml"},
		{name: "elasticsearch_conf", spec: "elasticsearch", args: "java -Des.path.conf=/etc/elasticsearch -m org.elasticsearch.server/org.elasticsearch.bootstrap.Elasticsearch", want: "/etc/elasticsearch/elasticsearch.yml"},
		{name: "kafka_properties", spec: "kafka", args: "java -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties kafka.Kafka /opt/kafka/config/server.properties", want: "/opt/kafka/config/server.properties"},
		{name: "dockerd_config", spec: "docker", args: "/usr/bin/dockerd -H fd:// --config-file /etc/docker/alt.json", want: "/etc/docker/alt.json"},
		{name: "containerd_config", spec: "containerd", args: "containerd --config /var/run/docker/containerd/containerd.toml --log-level info", want: "/var/run/docker/containerd/containerd.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := configFromArgs(spec(tc.spec), strings.Fields(tc.args)); got != tc.want {
				t.Errorf("configFromArgs(%q) = %q, want %q", tc.args, got, tc.want)
			}
		})
	}
}

func TestAppMain(t *testing.T) {
	tests := []struct {
		name string
		app  string
		args string
		want map[string]string
	}{
		{name: "java_jar", app: appJava, args: "java -Xmx1g -jar /srv/orders.jar --spring.profiles.active=prod", want: map[string]string{"jar": "/srv/orders.jar"}},
		{name: "java_main_after_cp", app: appJava, args: "java -cp /srv/lib/* -Dx=y com.example.Main arg", want: map[string]string{"main_class": "com.example.Main"}},
		{name: "java_module", app: appJava, args: "java --module-path mods -m com.example/com.example.Main", want: map[string]string{"main_class": "com.example/com.example.Main"}},
		{name: "java_version_only", app: appJava, args: "java -version", want: map[string]string{}},
		{name: "python_script", app: appPython, args: "/usr/bin/python3 -u -W ignore /opt/bot/bot.py --verbose", want: map[string]string{"script": "/opt/bot/bot.py"}},
		{name: "python_module", app: appPython, args: "python3 -m uvicorn main:app", want: map[string]string{"module": "uvicorn"}},
		{name: "python_inline", app: appPython, args: "python3 -c print(1)", want: map[string]string{}},
		{name: "python_repl", app: appPython, args: "python3", want: map[string]string{}},
		{name: "node_script", app: appNode, args: "node --max-old-space-size=256 -r dotenv/config dist/server.js", want: map[string]string{"script": "dist/server.js"}},
		{name: "node_eval", app: appNode, args: "node -e 1", want: map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, appMain(tc.app, strings.Fields(tc.args))); diff != "" {
				t.Errorf("appMain(%q) mismatch (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	tests := []struct {
		name string
		p    inventory.Process
		want []string
	}{
		{name: "argv", p: inventory.Process{Args: []string{"/usr/bin/memcached", "-p", "11211"}}, want: []string{"/usr/bin/memcached", "-p", "11211"}},
		{name: "title_padded", p: inventory.Process{Args: []string{"nginx: worker process", "", ""}}, want: []string{"nginx:", "worker", "process"}},
		{name: "cmdline_only", p: inventory.Process{Cmdline: "redis-server *:6379"}, want: []string{"redis-server", "*:6379"}},
		{name: "one_arg_path_with_space", p: inventory.Process{Args: []string{"/opt/My App/run"}}, want: []string{"/opt/My", "App/run"}},
		{name: "empty", p: inventory.Process{}, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tokens(&tc.p), cmpEmpty); diff != "" {
				t.Errorf("tokens() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpEmpty treats nil and empty slices as equal.
var cmpEmpty = cmp.Comparer(func(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
})

func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{
		"nginx: master process /usr/sbin/nginx -c /etc/nginx/nginx.conf -g daemon off;",
		"php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)",
		"/usr/lib/postgresql/15/bin/postgres\x00-D\x00/var/lib/postgresql/15/main\x00-c\x00config_file=/etc/postgresql/15/main/postgresql.conf",
		"java\x00-cp\x00/opt/kafka/libs/*\x00kafka.Kafka\x00/opt/kafka/config/server.properties",
		"java\x00-Dcatalina.base=/var/lib/tomcat9\x00org.apache.catalina.startup.Bootstrap\x00start",
		"python3\x00-m\x00http.server",
		"node\x00-r",
		"(/)",
		"-D",
	} {
		f.Add("", s)
		f.Add("java", s)
	}
	f.Fuzz(func(t *testing.T, name, cmdline string) {
		p := &inventory.Process{Name: name, Exe: "/usr/bin/" + name, Args: strings.Split(cmdline, "\x00"), Cmdline: strings.ReplaceAll(cmdline, "\x00", " ")}
		toks := tokens(p)
		if len(toks) > maxTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		for _, tok := range toks {
			if tok == "" {
				t.Fatalf("empty token in %q", toks)
			}
		}
		s, app := match(p, toks)
		if s != nil && app != "" {
			t.Fatalf("matched both %s and %s", s.name, app)
		}
		for _, sp := range specs {
			c := configFromArgs(sp, toks)
			if c != "" && !strings.Contains(cmdline, strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(c, "/elasticsearch.yml"), "/conf/server.xml"), "/postgresql.conf")) {
				t.Fatalf("config %q for %s is not from the command line %q", c, sp.name, cmdline)
			}
		}
		for _, a := range []string{appJava, appPython, appNode} {
			for k, v := range appMain(a, toks) {
				if v == "" || !strings.Contains(cmdline, v) {
					t.Fatalf("appMain %s=%q not from the command line %q", k, v, cmdline)
				}
			}
		}
	})
}
