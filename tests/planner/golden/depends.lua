-- request: release -- v1.2 fast
-- A parallel composite, a shared dependency, props, env, sudo, a prefix template.
host "app-1" { tags = {"app"}, LocalForward = "8080 localhost:80" }
host "app-2" { tags = {"app"} }

task "fetch" { script = "git fetch", props = { repo_url = "git@example:app" } }
task "compile" { depends = {"fetch"}, targets = "app", script = "make", prefix = "{{.Host.Name}} >" }
task "test" { depends = {"fetch"}, script = "make test", env = { CI = "1" } }
task "checks" { depends = {"compile", "test"}, parallel = true }
task "release" {
    depends = {"checks", "fetch"},
    targets = "app-*",
    privileged = true,
    parallel = 2,
    timeout = 30,
    retries = 1,
    on_error = "rollback",
    script = {"install -m 755 app /usr/local/bin/app", "systemctl restart app"},
}
task "rollback" { targets = "app", user = "deploy", script = "app rollback" }
