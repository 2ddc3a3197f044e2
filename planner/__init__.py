"""Lua configuration in, an immutable plan out. Pure: no network, no SSH, no trio."""
