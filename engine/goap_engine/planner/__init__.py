"""Planning: compile a ruleset to a search task, search it, explain and schedule."""
