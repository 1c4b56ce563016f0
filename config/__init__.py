"""The default configuration shipped with etablera (TOML files, package data)."""
