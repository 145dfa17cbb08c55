"""Webhook subscriptions: deliver segment and tag changes to operations systems."""
