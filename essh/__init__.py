"""essh: run tasks on fleets of SSH hosts as a compiled plan.

The package root only names the version; the work lives in the components
`essh.schema` (the plan and report contract), `essh.planner` (Lua in, plan out)
and `essh.executor` (plan in, report out), joined by the CLI in `essh.cli`.
"""

__version__ = "0.1.0"
