from .prn import PRN, PRNLayer

__all__ = ["PRN", "PRNLayer"]
