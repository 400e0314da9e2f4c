"""Fixtures shared by the module tests."""

from .host_reads import forbid_host_reads

__all__ = ["forbid_host_reads"]
