"""Thin Faust agents: decode, load state, call the domain, write state and send outputs."""
