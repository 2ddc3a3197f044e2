-- The release that examples/ci's pipelines run: back up the databases, roll the web servers out in
-- waves, then check every host. The inventory is hosts.lua (`require "hosts"`): in CI, your own;
-- in tests/test_ci_example.py, the test's sshd hosts.
local fleet = require "hosts"

for _, h in ipairs(fleet.hosts) do
    host(h.name) {
        HostName = h.address or "127.0.0.1",
        Port = h.port,
        User = fleet.user,
        IdentityFile = fleet.key,
        IdentitiesOnly = "yes",
        UserKnownHostsFile = fleet.known_hosts,
        tags = h.tags,
    }
end

task "backup" {
    description = "Back up every database before anything changes",
    targets = ["db"],
    parallel = true,
    script = [[echo "backup of $ESSH_HOSTNAME done"]],
}

task "deploy" {
    description = "Roll the release out: one canary, then half of the rest at a time",
    targets = ["web"],
    depends = ["backup"],
    parallel = true,
    batch = {1, "50%"},
    max_failures = 0,
    script = [[echo "deployed $ESSH_TASK_ARGS_1 to $ESSH_HOSTNAME"]],
}

task "check" {
    description = "Every host answers",
    targets = ["all"],
    depends = ["deploy"],
    parallel = true,
    script = [[echo "$ESSH_HOSTNAME up since $(uptime -s 2>/dev/null || echo boot)"]],
}

task "release" {
    description = "backup, deploy, check",
    depends = ["check"],
}
