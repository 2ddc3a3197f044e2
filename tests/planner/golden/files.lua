-- request: conf
host "web-1" { HostName = "10.0.0.1" }
host "web-2" { HostName = "10.0.0.2" }

task "conf" {
  targets = "web-*",
  privileged = true,
  files = {
    { upload = "files/nginx.conf", dest = "/etc/nginx/nginx.conf", mode = "0644", owner = "root" },
    { template = "files/app.tmpl", dest = "/etc/app/app.conf", mode = "0600" },
  },
  script = "systemctl reload nginx",
}

task "logs" {
  targets = "web-*",
  files = { { download = "/var/log/nginx/error.log", dest = "logs/{{.Host.Name}}/error.log" } },
}
