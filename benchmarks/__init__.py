"""Suites, leaderboards, statistics, the turngym CLI."""
