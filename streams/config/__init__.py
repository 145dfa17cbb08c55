"""Shipped configuration files (tag definitions, WeChat scene dictionary)."""
