-- request: update deploy check-status
-- The seed's examples as written (its list syntax included), with the tasks they name.
host "web-1" { HostName = "192.168.0.11", User = "deploy", tags = ["web", "production"] }
host "web-prod" { HostName = "192.168.0.12", tags = ["web", "production"], props = { rack = "r2" } }
host "db-1" { tags = ["db"] }

task "build" { script = "make" }
task "backup" { backend = "local", script = "tar cf /tmp/backup.tar /srv" }

task "update" {
    description = "Update system packages",
    targets = ["web-*"],
    script = [[
        sudo apt update
        sudo apt upgrade -y
    ]]
}

task "deploy" {
    description = "Deploy application",
    depends = ["build", "backup"],
    targets = ["production"],
    parallel = false
}

task "check-status" {
    description = "Check service status across all servers",
    targets = ["all"],
    parallel = true,
    script = "systemctl status nginx"
}
