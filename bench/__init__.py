"""Benchmarks: `make bench` (python -m bench) runs every script listed in bench/__main__.py."""
