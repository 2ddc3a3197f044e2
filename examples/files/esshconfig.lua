-- File operations: a config file pinned in the plan, a per-host template, a download per host.
--
--   essh --config examples/files/esshconfig.lua plan site --refresh -o site.bin   # what would change, with diffs
--   essh show site.bin --verbose                                                  # every file, its digest, its text
--   essh apply site.bin                                                           # exactly that; refuses a file
--                                                                                 # edited on a host since the review
-- Point the hosts at machines you can reach (password-less sudo for the privileged task).

host "web-1" { HostName = "192.0.2.11", User = "deploy", tags = { "web" }, props = { port = "8081" } }
host "web-2" { HostName = "192.0.2.12", User = "deploy", tags = { "web" }, props = { port = "8082" } }

task "site" {
    description = "Configure the web servers and reload them",
    targets = "web",
    parallel = true,
    privileged = true,
    files = {
        { upload = "files/nginx.conf", dest = "/etc/nginx/nginx.conf", mode = "0644", owner = "root", group = "root" },
        { template = "files/site.conf.tmpl", dest = "/etc/nginx/conf.d/{{.Host.Name}}.conf", mode = "0644" },
        { content = "managed by essh\n", dest = "/etc/motd" },
    },
    script = "nginx -t && systemctl reload nginx",
}

task "logs" {
    description = "Fetch each server's error log into logs/HOST/",
    targets = "web",
    parallel = true,
    privileged = true,
    files = {
        { download = "/var/log/nginx/error.log", dest = "logs/{{.Host.Name}}/error.log" },
    },
}
