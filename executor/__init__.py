"""A plan in, a status report out: runs the steps over SSH with trio. No Lua."""
