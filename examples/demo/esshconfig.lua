-- The demo fleet: four hosts on this machine (scripts/demo.sh starts an sshd for each and writes
-- hosts.lua with their ports), and a small release written the way an ESSH user would.
local fleet = require "hosts"

for _, h in ipairs(fleet.hosts) do
    host(h.name) {
        HostName = "127.0.0.1",
        Port = h.port,
        User = fleet.user,
        IdentityFile = fleet.key,
        IdentitiesOnly = "yes",
        UserKnownHostsFile = fleet.known_hosts,
        description = h.name .. " (demo)",
        tags = h.tags,
    }
end

task "build" {
    description = "Build the release on this machine",
    script = [[
        mkdir -p "$DEMO_DIR/dist"
        echo "release $(date +%s)" > "$DEMO_DIR/dist/VERSION"
        echo "built $(cat "$DEMO_DIR/dist/VERSION")"
    ]],
}

task "backup" {
    description = "Back up the database",
    targets = ["db-*"],
    parallel = false,
    script = "echo backing up $ESSH_HOSTNAME; sleep 0.2; echo done",
}

task "deploy" {
    description = "Deploy application",
    depends = ["build", "backup"],
    targets = ["web"],
    parallel = true,
    props = { release = "demo" },
    script = {
        "echo deploying release $ESSH_TASK_PROPS_RELEASE to $ESSH_HOSTNAME",
        "uname -sr",
    },
}

task "check-status" {
    description = "Check service status across all servers",
    targets = ["all"],
    parallel = true,
    script = "echo up since $(uptime -s 2>/dev/null || echo unknown)",
}

task "default" {
    description = "Build, back up, deploy, then check every host",
    depends = ["deploy", "check-status"],
}
