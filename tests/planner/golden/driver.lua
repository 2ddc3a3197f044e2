-- request: greet -- world
-- A custom driver rendered per host, and a prepare function that lets a task through (false would stop planning).
host "h1" { tags = {"x"} }
host "h2" { tags = {"x"} }

driver "loud" {
    engine = function (driver)
        return [=[{{template "environment" .}}
{{range $i, $s := .Scripts}}echo "[{{$i}}] {{$s.description}} on {{$.Host.Name}} for {{index $.Args 0}}"
{{$s.code}}
{{end}}]=]
    end,
}

task "optional" { prepare = function (ctx) if ctx.args[1] ~= "world" then return false end end, script = "echo only for the world" }
task "greet" {
    depends = {"optional"},
    driver = "loud",
    targets = "x",
    script = { { description = "hello", code = "echo hello" } },
}
