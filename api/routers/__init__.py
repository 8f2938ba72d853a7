"""Thin routers: parse, call one service function, shape the reply."""
