"""(exports wired by the maintainers)"""
