"""Warranty repairs (docs/domain.md §4), a module of the routing service: work orders from repair
requests and class-2 complaints, the steps to a signed joint acceptance, the warranty check on
routing's copy of the projects, recurring defects (质量通病) and their remediation."""
